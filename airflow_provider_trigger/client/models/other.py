"""Models of the other resources: env vars, schedules, queues, waitpoints, deployments, newer routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_trigger.client.models._base import ApiObject, TriggerModel


class EnvVar(TriggerModel):
    name: str
    value: str = ""
    is_secret: bool | None = None


class Success(TriggerModel):
    success: bool = True


class ScheduleGenerator(TriggerModel):
    type: str = "CRON"
    expression: str = ""
    description: str | None = None


class Schedule(TriggerModel):
    id: str
    type: str | None = None
    task: str = ""
    active: bool = True
    deduplication_key: str | None = None
    external_id: str | None = None
    generator: ScheduleGenerator | None = None
    timezone: str | None = None
    window: str | None = None
    next_run: datetime | None = None
    next_run_effective_at: datetime | None = None
    environments: list[ApiObject] = []


class QueueConcurrency(TriggerModel):
    current: int | None = None
    base: int | None = None
    override: int | None = None
    overridden_at: datetime | None = None
    overridden_by: str | None = None


class Queue(TriggerModel):
    id: str
    name: str = ""
    type: str | None = None
    running: int = 0
    queued: int = 0
    paused: bool = False
    concurrency_limit: int | None = None
    concurrency: QueueConcurrency | None = None


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


class Deployment(TriggerModel):
    id: str
    created_at: datetime | None = None
    short_code: str | None = None
    version: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    status: str | None = None
    deployed_at: datetime | None = None
    git: Any = None
    error: Any = None


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
