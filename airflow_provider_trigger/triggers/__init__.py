"""Deferrable triggers that wait for Trigger.dev runs in Airflow's triggerer."""

from __future__ import annotations

from airflow_provider_trigger.triggers._wait import (
    TriggerRunCanceledError,
    TriggerRunFailedError,
    TriggerWaitTimeoutError,
)
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger

__all__ = [
    "TriggerBatchTrigger",
    "TriggerRunCanceledError",
    "TriggerRunFailedError",
    "TriggerRunTrigger",
    "TriggerWaitTimeoutError",
]
