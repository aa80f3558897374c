"""Models of error groups, query results, sessions and prompts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_trigger.client.models._base import ApiObject, TriggerModel


class TaskErrorGroup(TriggerModel):
    """An error group (``error_…``) from ``/api/v1/errors``."""

    id: str
    fingerprint: str | None = None
    task_identifier: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    status: str | None = None
    count: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    resolved_at: datetime | None = None
    ignored_until: datetime | None = None


class QueryResult(TriggerModel):
    format: str = "json"
    results: Any = None


class Session(TriggerModel):
    id: str
    external_id: str | None = None
    type: str | None = None
    task_identifier: str | None = None
    trigger_config: ApiObject | None = None
    current_run_id: str | None = None
    tags: list[str] = []
    metadata: Any = None
    closed_at: datetime | None = None
    closed_reason: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # start only
    run_id: str | None = None
    public_access_token: str | None = None
    is_cached: bool | None = None


class Prompt(TriggerModel):
    slug: str
    friendly_id: str | None = None
    description: str | None = None
    tags: list[str] = []
    default_model: str | None = None
    current_version: Any = None
    has_override: bool | None = None
    updated_at: datetime | None = None
