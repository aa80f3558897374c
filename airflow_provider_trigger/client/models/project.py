"""Models of a project's configuration: env vars, schedules, queues, deployments."""

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
