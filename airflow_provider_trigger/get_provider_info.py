"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

The connection form lives here (``ui-field-behaviour`` + ``conn-fields``) so that Airflow 3's API server
builds it without importing the hook; ``TriggerHook.get_ui_field_behaviour()`` returns the same data for
older Airflow versions. This module imports nothing from Airflow.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_trigger import __version__

MIN_AIRFLOW_VERSION = "3.0"
"""The oldest Airflow this provider supports (``pyproject.toml`` requires it, the README states it)."""
TESTED_AIRFLOW_VERSIONS = ("3.0.6", "3.1.8", "3.2.2", "3.3.2")
"""One release per supported minor, each run by CI (3.3: ``uv.lock``; older: ``ci/constraints/``)."""

INTEGRATION = "Trigger.dev"
CONNECTION_TYPE = "trigger"
HOOK_CLASS_NAME = "airflow_provider_trigger.hooks.trigger.TriggerHook"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "API URL", "password": "Secret key or personal access token"},
    "placeholders": {
        "host": "https://api.trigger.dev (leave empty for Trigger.dev Cloud)",
        "password": "tr_dev_…, tr_prod_…, tr_stg_…, tr_preview_… or tr_pat_…",
    },
}


def _field(label: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": schema}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_ref": _field(
        "Project ref",
        "proj_… from the project settings. Needed with a personal access token and for env vars.",
        {"type": ["string", "null"], "pattern": "^proj_[A-Za-z0-9_-]+$"},
    ),
    "environment": _field(
        "Environment",
        "Environment for personal-access-token calls (default dev). A secret key fixes its own.",
        {
            "type": ["string", "null"],
            "enum": ["dev", "staging", "prod", "preview", None],
            # Airflow's form labels each option String(value): without this the unset value reads
            # "null" (airflow/ui FieldDropdown: values_display[String(value)] ?? String(value)).
            "values_display": {
                "dev": "dev",
                "staging": "staging",
                "prod": "prod",
                "preview": "preview",
                "null": "Not set (dev for a personal access token; a secret key sets its own)",
            },
        },
    ),
    "preview_branch": _field(
        "Preview branch",
        "Sent as x-trigger-branch. Required with a tr_preview_ key.",
        {"type": ["string", "null"]},
    ),
    "timeout": _field(
        "Request timeout (s)",
        "Per-request timeout in seconds (default 60).",
        {"type": ["number", "null"], "exclusiveMinimum": 0},
    ),
    "retry_max_attempts": _field(
        "Retry: max attempts",
        "Attempts per API call, first one included (default 5; 1 disables retries).",
        {"type": ["integer", "null"], "minimum": 1},
    ),
    "retry_factor": _field(
        "Retry: backoff factor",
        "Exponential backoff factor (default 1.6).",
        {"type": ["number", "null"], "exclusiveMinimum": 0},
    ),
    "retry_min_timeout": _field(
        "Retry: first delay (s)",
        "Delay before the first retry, in seconds (default 1).",
        {"type": ["number", "null"], "minimum": 0},
    ),
    "retry_max_timeout": _field(
        "Retry: longest delay (s)",
        "Upper bound on the delay between retries, in seconds (default 30).",
        {"type": ["number", "null"], "minimum": 0},
    ),
    "retry_randomize": _field(
        "Retry: randomize delays",
        "Multiply each delay by a random factor in [1, 2) (default false).",
        {"type": ["boolean", "null"]},
    ),
    "dashboard_url": _field(
        "Dashboard URL",
        "Base of run links. Default: https://cloud.trigger.dev for the cloud API, else the API URL's origin.",
        {"type": ["string", "null"]},
    ),
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-trigger",
        "name": "Trigger.dev",
        "description": (
            "Trigger Trigger.dev tasks, wait on runs and manage env vars and schedules. "
            f"Apache Airflow {MIN_AIRFLOW_VERSION} to {TESTED_AIRFLOW_VERSIONS[-1][:3]}."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://trigger.dev/docs/management/overview",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_trigger.hooks.trigger"]}
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS_NAME,
                "hook-name": "Trigger.dev",
                "connection-type": CONNECTION_TYPE,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_trigger.operators.tasks",
                    "airflow_provider_trigger.operators.batches",
                    "airflow_provider_trigger.operators.runs",
                    "airflow_provider_trigger.operators.envvars",
                    "airflow_provider_trigger.operators.schedules",
                    "airflow_provider_trigger.operators.waitpoints",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_trigger.sensors.runs",
                    "airflow_provider_trigger.sensors.waitpoints",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_trigger.triggers.runs",
                    "airflow_provider_trigger.triggers.events",
                    "airflow_provider_trigger.triggers.waitpoints",
                ],
            }
        ],
        "task-decorators": [
            {
                "name": "trigger_dev",
                "class-name": "airflow_provider_trigger.decorators.trigger_dev.trigger_dev_task",
            }
        ],
        "extra-links": ["airflow_provider_trigger.operators.links.TriggerRunLink"],
    }
