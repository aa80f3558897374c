"""Deferrable waits: start a run, watch it with a sensor from the triggerer, fan out a batch.

Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator
from airflow_provider_trigger.sensors import TriggerRunSensor


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def example_trigger_deferrable() -> None:
    start = TriggerTaskOperator(
        task_id="start",
        task_identifier="hello-world",
        payload={"name": "deferred"},
        wait_for_completion=False,
    )
    # No worker slot is held while the run goes on; the sensor's timeout travels with the deferral.
    wait = TriggerRunSensor(
        task_id="wait",
        run_id="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
        deferrable=True,
        poke_interval=1,
        timeout=600,
    )
    fan_out = TriggerBatchOperator(
        task_id="fan_out",
        task_identifier="hello-world",
        payloads=[{"n": n} for n in range(3)],
        deferrable=True,
        poll_interval=1,
    )

    @task
    def total(batch: dict[str, Any]) -> int:
        return sum(output["n"] for output in batch["outputs"])

    start >> wait >> fan_out
    total(fan_out.output)


example_trigger_deferrable()
