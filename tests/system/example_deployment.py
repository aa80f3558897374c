"""Deployment DAG: keep a Trigger.dev environment in the state this repository declares.

Run it after each release (or on a schedule): it syncs the environment's variables from a ``.env``
file plus values held in Airflow, makes the project's Airflow-managed schedules match the list below
(deleting the ones that were dropped), and cancels the waiting runs of a retired task. Variables and
schedules that did not change cost no write request.

Connection ``trigger_default``: a secret key of the target environment or a PAT, with ``project_ref`` in
its extra (the env-var routes name the project; the emulator's is ``proj_emulatorlocalproject``).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_trigger.operators import (
    TriggerBulkActionOperator,
    TriggerEnvVarsSyncOperator,
    TriggerSchedulesSyncOperator,
)

ENV_FILE = Path(__file__).with_name("example_deployment.env")
SCHEDULE_PREFIX = "airflow/example_deployment/"

with DAG(
    dag_id="example_trigger_deployment",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["trigger.dev", "example"],
) as dag:
    sync_env_vars = TriggerEnvVarsSyncOperator(
        task_id="sync_env_vars",
        env_file=str(ENV_FILE),  # plain settings, versioned with the code
        airflow_variable_prefix="trigger_env__",  # Airflow Variable trigger_env__X → X
        variables={
            "RELEASE": "{{ dag_run.conf.get('release', 'unreleased') }}",  # later sources win
            "STRIPE_API_KEY": "{{ var.value.get('stripe_api_key', 'sk_test_example_only_000') }}",
        },
        secret_names=["*_API_KEY"],
        environment="dev",
        prune=True,  # delete variables no source declares any more
    )

    sync_schedules = TriggerSchedulesSyncOperator(
        task_id="sync_schedules",
        key_prefix=SCHEDULE_PREFIX,  # only schedules under this prefix are managed (and pruned)
        schedules=[
            {
                "task": "daily-digest",
                "cron": "0 7 * * 1-5",
                "timezone": "Europe/London",
                "deduplication_key": SCHEDULE_PREFIX + "daily-digest",
            },
            {
                "task": "sync-crm",
                "cron": "*/30 * * * *",
                "window": "10m",
                "deduplication_key": SCHEDULE_PREFIX + "sync-crm",
            },
        ],
    )

    cancel_retired_runs = TriggerBulkActionOperator(
        task_id="cancel_retired_runs",
        action="cancel",
        filter={"task_identifier": ["legacy-import"], "status": ["QUEUED", "DELAYED"]},
        name="retire legacy-import",
        wait_for_completion=True,
    )

    sync_env_vars >> sync_schedules >> cancel_retired_runs
