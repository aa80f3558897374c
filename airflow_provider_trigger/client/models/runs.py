"""Runs: the run object, its status vocabulary and the client-side status sets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PlainValidator

from airflow_provider_trigger.client.models._base import ApiObject, TriggerModel, tolerant_enum


class RunStatus(StrEnum):
    """Run statuses with ``x-trigger-api-version: 2025-07-16`` (plus the legacy names, for filters)."""

    PENDING_VERSION = "PENDING_VERSION"
    DELAYED = "DELAYED"
    QUEUED = "QUEUED"
    DEQUEUED = "DEQUEUED"
    EXECUTING = "EXECUTING"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    SYSTEM_FAILURE = "SYSTEM_FAILURE"
    EXPIRED = "EXPIRED"
    TIMED_OUT = "TIMED_OUT"
    # legacy vocabulary (servers without the api-version header); accepted by filters
    REATTEMPTING = "REATTEMPTING"
    FROZEN = "FROZEN"
    INTERRUPTED = "INTERRUPTED"
    WAITING_FOR_DEPLOY = "WAITING_FOR_DEPLOY"


TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.CANCELED,
        RunStatus.FAILED,
        RunStatus.CRASHED,
        RunStatus.SYSTEM_FAILURE,
        RunStatus.EXPIRED,
        RunStatus.TIMED_OUT,
    }
)
"""Final statuses, computed client-side (the API's ``isCompleted`` misses EXPIRED and TIMED_OUT)."""
SUCCESS_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.COMPLETED})
FAILURE_STATUSES: frozenset[RunStatus] = TERMINAL_STATUSES - SUCCESS_STATUSES
"""Terminal but not successful, CANCELED and EXPIRED included."""

Status = Annotated[RunStatus | str, PlainValidator(tolerant_enum(RunStatus))]


class RunError(TriggerModel):
    message: str | None = None
    name: str | None = None
    stack_trace: str | None = None


class Run(TriggerModel):
    """A run, as listed or retrieved. Unknown statuses stay plain strings (not terminal)."""

    id: str
    status: Status = ""
    task_identifier: str = ""
    idempotency_key: str | None = None
    version: str | None = None
    env: ApiObject | None = None
    is_queued: bool | None = None
    is_executing: bool | None = None
    is_waiting: bool | None = None
    is_completed: bool | None = None
    """The API's flag, kept as sent; prefer ``is_terminal``."""
    is_test: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    delayed_until: datetime | None = None
    expired_at: datetime | None = None
    ttl: str | None = None
    tags: list[str] = []
    cost_in_cents: float | None = None
    base_cost_in_cents: float | None = None
    duration_ms: float | None = None
    depth: int | None = None
    metadata: Any = None
    task_kind: str | None = None
    region: str | None = None
    # retrieve only
    payload: Any = None
    payload_presigned_url: str | None = Field(default=None, repr=False)
    output: Any = None
    output_presigned_url: str | None = Field(default=None, repr=False)
    error: RunError | None = None
    schedule: ApiObject | None = None
    related_runs: ApiObject | None = None
    attempt_count: int | None = None
    trigger_function: str | None = None
    batch_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change (see ``TERMINAL_STATUSES``)."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_success(self) -> bool:
        return self.status in SUCCESS_STATUSES

    @property
    def is_failed(self) -> bool:
        """Terminal and not COMPLETED: FAILED, CRASHED, SYSTEM_FAILURE, TIMED_OUT, EXPIRED, CANCELED."""
        return self.status in FAILURE_STATUSES

    @property
    def is_known_status(self) -> bool:
        return isinstance(self.status, RunStatus)


class RunResult(TriggerModel):
    """``GET /api/v1/runs/{id}/result``: the execution result of a finished run."""

    ok: bool
    id: str
    output: Any = None
    output_type: str | None = None
    error: Any = None
    usage: ApiObject | None = None
    task_identifier: str | None = None


class IdResponse(TriggerModel):
    id: str


class MetadataResponse(TriggerModel):
    metadata: Any = None
    metadata_type: str | None = None


class BulkAction(TriggerModel):
    id: str
    name: str | None = None
    type: str | None = None
    status: str | None = None
    counts: ApiObject | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
