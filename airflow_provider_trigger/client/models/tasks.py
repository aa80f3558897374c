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
    processing: ApiObject | None = None


class BatchTriggerResult(TriggerModel):
    """What ``tasks.batch_trigger`` returns: the batch id and the ids of its runs, in item order."""

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
