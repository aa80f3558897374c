"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_trigger import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-trigger",
        "name": "Trigger.dev",
        "description": "Trigger Trigger.dev tasks, wait on runs and manage env vars and schedules.",
        "versions": [__version__],
    }
