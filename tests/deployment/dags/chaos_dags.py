"""DAGs the deployment scenarios drive. Their Trigger.dev tasks' durations are set on the emulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_trigger.operators import TriggerTaskOperator
from airflow_provider_trigger.triggers import TriggerRunEventTrigger

START = datetime(2026, 1, 1)


@task
def payloads(params: dict[str, Any] | None = None) -> list[dict[str, int]]:
    return [{"n": n} for n in range(int((params or {}).get("waits", 1)))]


@dag(schedule=None, start_date=START, catchup=False, params={"waits": 1}, max_active_tasks=64)
def chaos_deferred() -> None:
    """``waits`` deferred waits on runs of ``chaos-wait``, each in the triggerer."""
    TriggerTaskOperator.partial(
        task_id="wait", task_identifier="chaos-wait", deferrable=True, poll_interval=1
    ).expand(payload=payloads())


@dag(schedule=None, start_date=START, catchup=False)
def chaos_worker_wait() -> None:
    """One wait in the worker (not deferred), retried once if the worker dies."""
    TriggerTaskOperator(
        task_id="wait",
        task_identifier="chaos-worker",
        payload={"what": "worker-side wait"},
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )


watched = Asset(
    "chaos_watched",
    watchers=[
        AssetWatcher("chaos_watcher", TriggerRunEventTrigger(task_identifier="chaos-event", poll_interval=1))
    ],
)


@dag(schedule=[watched], start_date=START, catchup=False, max_active_runs=64)
def chaos_on_event() -> None:
    """One DAG run per completed ``chaos-event`` run."""

    @task
    def count(triggering_asset_events: Any = None) -> int:
        return len(triggering_asset_events[watched]) if triggering_asset_events else 0

    count()


chaos_deferred()
chaos_worker_wait()
chaos_on_event()
