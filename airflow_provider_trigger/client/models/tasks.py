"""Triggering: single trigger and batch results, the batch object."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import PlainValidator

from airflow_provider_trigger.client.models._base import ApiObject, TriggerModel, tolerant_enum


class TriggerResult(TriggerModel):
    """A triggered run: its id, and whether an idempotency key returned an existing run."""

    id: str
    is_cached: bool = False
    public_access_token: str | None = None


class BatchStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    PARTIAL_FAILED = "PARTIAL_FAILED"
    ABORTED = "ABORTED"


class CreatedBatch(TriggerModel):
    """Phase 1 of a batch trigger (``POST /api/v3/batches``)."""

    id: str
    run_count: int = 0
    is_cached: bool = False
    idempotency_key: str | None = None


class BatchItemsResult(TriggerModel):
    """Phase 2 (the NDJSON item stream)."""

    id: str
    items_accepted: int = 0
    items_deduplicated: int = 0
    sealed: bool = False
    enqueued_count: int | None = None
    expected_count: int | None = None


class Batch(TriggerModel):
    """``GET /api/v2/batches/{id}``."""

    id: str
    status: Annotated[BatchStatus | str, PlainValidator(tolerant_enum(BatchStatus))] = ""
    idempotency_key: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    run_count: int = 0
    runs: list[str] = []
    processing_completed_at: datetime | None = None
    processing: ApiObject | None = None

    @property
    def processed(self) -> bool:
        """Item processing has ended: ``runs`` is final (PENDING also means "not sealed yet" before)."""
        return self.processing_completed_at is not None or self.status in {
            BatchStatus.COMPLETED,
            BatchStatus.PARTIAL_FAILED,
            BatchStatus.ABORTED,
        }


class BatchItemFailure(TriggerModel):
    """An item the server could not turn into a run (``processing.errors`` of the batch)."""

    index: int
    task_identifier: str = ""
    error: str = ""
    error_code: str | None = None


class ProcessedBatch(TriggerModel):
    """A batch whose items have all been processed (``batches.wait_until_processed``).

    ``run_ids`` are in item order (an item that failed to trigger is usually a SYSTEM_FAILURE run
    there); ``failures`` lists items that got no run at all (then ``run_ids`` is shorter than
    ``run_count``). ``status`` is PENDING (runs going), PARTIAL_FAILED, ABORTED or COMPLETED.
    """

    id: str
    status: str
    run_count: int
    run_ids: list[str] = []
    failures: list[BatchItemFailure] = []

    @property
    def batch_id(self) -> str:
        return self.id


class BatchTriggerResult(TriggerModel):
    """What ``tasks.batch_trigger`` returns: the batch id and its size, at once (as the SDK does).

    ``run_ids`` is empty unless ``wait_until_processed`` was given: production writes a batch's run
    ids only when its items have been processed, after the trigger call returns.
    """

    id: str
    run_count: int
    is_cached: bool = False
    idempotency_key: str | None = None
    run_ids: list[str] = []
    public_access_token: str | None = None

    @property
    def batch_id(self) -> str:
        return self.id


class BatchResults(TriggerModel):
    id: str
    items: list[Any] = []
