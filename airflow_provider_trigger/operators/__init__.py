"""Airflow operators for Trigger.dev: trigger tasks, manage runs, sync env vars and schedules, and
create or complete waitpoint tokens."""

from __future__ import annotations

from airflow_provider_trigger.operators.batches import TriggerBatchOperator
from airflow_provider_trigger.operators.envvars import EnvVarSyncError, TriggerEnvVarsSyncOperator
from airflow_provider_trigger.operators.links import TriggerRunLink
from airflow_provider_trigger.operators.runs import (
    TriggerBulkActionError,
    TriggerBulkActionOperator,
    TriggerCancelRunOperator,
    TriggerReplayRunOperator,
    TriggerRescheduleRunOperator,
)
from airflow_provider_trigger.operators.schedules import (
    TriggerDeleteScheduleOperator,
    TriggerScheduleOperator,
    TriggerSchedulesSyncOperator,
)
from airflow_provider_trigger.operators.tasks import TriggerTaskOperator
from airflow_provider_trigger.operators.waitpoints import (
    TriggerCompleteWaitpointOperator,
    TriggerCreateWaitpointOperator,
)

__all__ = [
    "EnvVarSyncError",
    "TriggerBatchOperator",
    "TriggerBulkActionError",
    "TriggerBulkActionOperator",
    "TriggerCancelRunOperator",
    "TriggerCompleteWaitpointOperator",
    "TriggerCreateWaitpointOperator",
    "TriggerDeleteScheduleOperator",
    "TriggerEnvVarsSyncOperator",
    "TriggerReplayRunOperator",
    "TriggerRescheduleRunOperator",
    "TriggerRunLink",
    "TriggerScheduleOperator",
    "TriggerSchedulesSyncOperator",
    "TriggerTaskOperator",
]
