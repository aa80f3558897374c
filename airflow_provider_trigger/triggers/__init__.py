"""Triggers: deferrable waits on Trigger.dev runs and waitpoint tokens, and the run watcher that
starts DAGs (AssetWatcher).

The waiting itself lives in :mod:`airflow_provider_trigger.triggers.engine`, shared with the operators
and the sensor; the errors a wait ends in are in :mod:`airflow_provider_trigger.exceptions`.
"""

from __future__ import annotations

from airflow_provider_trigger.exceptions import (
    TriggerRunCanceledError,
    TriggerRunFailedError,
    TriggerWaitError,
    TriggerWaitTimeoutError,
)
from airflow_provider_trigger.triggers.events import TriggerRunEventTrigger
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger
from airflow_provider_trigger.triggers.waitpoints import TriggerWaitpointTrigger

__all__ = [
    "TriggerBatchTrigger",
    "TriggerRunCanceledError",
    "TriggerRunEventTrigger",
    "TriggerRunFailedError",
    "TriggerRunTrigger",
    "TriggerWaitError",
    "TriggerWaitTimeoutError",
    "TriggerWaitpointTrigger",
]
