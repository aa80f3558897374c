"""Airflow hooks: ``TriggerHook`` reads a Trigger.dev key from an Airflow Connection."""

from __future__ import annotations

from airflow_provider_trigger.hooks._async_clients import close_async_clients
from airflow_provider_trigger.hooks._connection import TriggerConnectionError, TriggerConnectionSettings
from airflow_provider_trigger.hooks.trigger import TriggerHook

__all__ = ["TriggerConnectionError", "TriggerConnectionSettings", "TriggerHook", "close_async_clients"]
