"""Trigger a Trigger.dev task, wait for its run and hand its output to the next task.

Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_trigger.operators import TriggerTaskOperator


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"name": "Airflow"},
    tags=["trigger.dev"],
)
def example_trigger_task() -> None:
    # Waits for the run (an Airflow retry re-attaches to it) and returns its output.
    hello = TriggerTaskOperator(
        task_id="hello",
        task_identifier="hello-world",
        payload={"name": "{{ params.name }}"},
        tags=["airflow"],
        poll_interval=1,
    )

    @task
    def report(output: dict[str, Any]) -> str:
        return f"Trigger.dev answered {output}"

    report(hello.output)

    # One run per payload; each mapped task instance has its own idempotency key.
    TriggerTaskOperator.partial(task_id="hello_each", task_identifier="hello-world", poll_interval=1).expand(
        payload=[{"name": "Ada"}, {"name": "Grace"}]
    )


example_trigger_task()
