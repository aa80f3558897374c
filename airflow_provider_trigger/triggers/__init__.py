"""Triggers: deferrable waits on Trigger.dev runs, and the run watcher that starts DAGs (AssetWatcher)."""

from __future__ import annotations

from airflow_provider_trigger.triggers._wait import (
    TriggerRunCanceledError,
    TriggerRunFailedError,
    TriggerWaitTimeoutError,
)
from airflow_provider_trigger.triggers.events import TriggerRunEventTrigger
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger

__all__ = [
    "TriggerBatchTrigger",
    "TriggerRunCanceledError",
    "TriggerRunEventTrigger",
    "TriggerRunFailedError",
    "TriggerRunTrigger",
    "TriggerWaitTimeoutError",
]
