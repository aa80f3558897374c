"""Models of waitpoint tokens."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_trigger.client.models._base import TriggerModel


class CreatedWaitpointToken(TriggerModel):
    id: str
    is_cached: bool = False
    url: str | None = None
    public_access_token: str | None = None


class WaitpointToken(TriggerModel):
    id: str
    url: str | None = None
    status: str = ""
    completed_at: datetime | None = None
    timeout_at: datetime | None = None
    idempotency_key: str | None = None
    idempotency_key_expires_at: datetime | None = None
    tags: list[str] = []
    created_at: datetime | None = None
    output: str | None = None
    output_type: str | None = None
    output_is_error: bool | None = None
