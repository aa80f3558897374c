"""Event-driven: when the Trigger.dev task ``ingest`` completes, run the DAG ``transform``.

The watcher runs in Airflow's triggerer and fires one asset event per **new** completed ``ingest`` run
(never for runs that ended before it started, never twice for one run: its cursor lives in the asset's
state store on Airflow 3.3+). ``transform`` reads each run's id and output from the event.
``ingest_now`` starts an ``ingest`` run, so a manual run of it sets the chain off.

Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``, a
running triggerer, and both DAGs unpaused (a paused DAG's watcher does not run).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_trigger.operators import TriggerTaskOperator
from airflow_provider_trigger.triggers import TriggerRunEventTrigger

ingest_completed = Asset(
    "trigger_dev_ingest_completed",
    watchers=[
        AssetWatcher(
            "trigger_dev_ingest_watcher",
            TriggerRunEventTrigger(task_identifier="ingest", include_output=True, poll_interval=30),
        )
    ],
)


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def ingest_now() -> None:
    TriggerTaskOperator(
        task_id="ingest",
        task_identifier="ingest",
        payload={"source": "s3://landing/{{ dag_run.run_after | ds }}"},
        wait_for_completion=False,
    )


@dag(schedule=[ingest_completed], start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def transform() -> None:
    @task
    def load(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """One entry per completed ``ingest`` run behind this DAG run (none when started by hand)."""
        events = triggering_asset_events[ingest_completed] if triggering_asset_events else []
        runs = [event.extra["payload"] for event in events]
        for run in runs:
            print(
                f"ingest run {run['run_id']} ended {run['status']} at {run['finished_at']}: {run['run_url']}"
            )
        return [{"run_id": run["run_id"], "output": run.get("output")} for run in runs]

    load()


ingest_now()
transform()
