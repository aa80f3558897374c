"""Trigger.dev runs as asset producers: the run's id, status and small output ride on the asset event.

``example_asset_producer`` runs the Trigger.dev task ``ingest`` (and a batch of ``resize``) with
``outlets``; when a run completes, Airflow records an asset event whose ``extra`` holds ``run_id``,
``task_identifier``, ``status``, ``run_url`` and ``output`` (``batch_id``, ``run_ids`` and ``outputs`` for
the batch). ``example_asset_consumer`` is scheduled on the asset and reads them.

Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, dag, task

from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator

ingested = Asset("trigger_dev_ingested")
thumbnails = Asset("trigger_dev_thumbnails")


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def example_asset_producer() -> None:
    TriggerTaskOperator(
        task_id="ingest",
        task_identifier="ingest",
        payload={"rows": 3},
        outlets=[ingested],
        poll_interval=1,
    )
    TriggerBatchOperator(
        task_id="resize",
        task_identifier="resize",
        payloads=[{"image": n} for n in range(2)],
        outlets=[thumbnails],
        poll_interval=1,
    )


@dag(schedule=[ingested], start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def example_asset_consumer() -> None:
    @task
    def report(triggering_asset_events: Any = None) -> list[str]:
        """The Trigger.dev runs whose completion triggered this DAG run (none when started by hand)."""
        events = triggering_asset_events[ingested] if triggering_asset_events else []
        return [f"{e.extra['run_id']} {e.extra['status']}: {e.extra.get('output')}" for e in events]

    report()


example_asset_producer()
example_asset_consumer()
