"""Response models (pydantic v2): snake_case attributes, camelCase on the wire, unknown fields kept."""

from __future__ import annotations

from airflow_provider_trigger.client.models._base import ApiObject, TriggerModel
from airflow_provider_trigger.client.models.insights import Prompt, QueryResult, Session, TaskErrorGroup
from airflow_provider_trigger.client.models.logs import RunEvent, RunEvents, RunLogLine
from airflow_provider_trigger.client.models.project import (
    Deployment,
    EnvVar,
    Queue,
    QueueConcurrency,
    Schedule,
    ScheduleGenerator,
    Success,
)
from airflow_provider_trigger.client.models.runs import (
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    BulkAction,
    IdResponse,
    MetadataResponse,
    Run,
    RunError,
    RunResult,
    RunStatus,
)
from airflow_provider_trigger.client.models.tasks import (
    Batch,
    BatchItemFailure,
    BatchItemsResult,
    BatchResults,
    BatchStatus,
    BatchTriggerResult,
    CreatedBatch,
    ProcessedBatch,
    TriggerResult,
)
from airflow_provider_trigger.client.models.waitpoints import CreatedWaitpointToken, WaitpointToken

__all__ = [
    "FAILURE_STATUSES",
    "SUCCESS_STATUSES",
    "TERMINAL_STATUSES",
    "ApiObject",
    "Batch",
    "BatchItemFailure",
    "BatchItemsResult",
    "BatchResults",
    "BatchStatus",
    "BatchTriggerResult",
    "BulkAction",
    "CreatedBatch",
    "CreatedWaitpointToken",
    "Deployment",
    "EnvVar",
    "IdResponse",
    "MetadataResponse",
    "ProcessedBatch",
    "Prompt",
    "QueryResult",
    "Queue",
    "QueueConcurrency",
    "Run",
    "RunError",
    "RunEvent",
    "RunEvents",
    "RunLogLine",
    "RunResult",
    "RunStatus",
    "Schedule",
    "ScheduleGenerator",
    "Session",
    "Success",
    "TaskErrorGroup",
    "TriggerModel",
    "TriggerResult",
    "WaitpointToken",
]
