"""Trigger.dev runs as asset producers: the asset event carries the run's id, status and output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator
from airflow_provider_trigger.triggers.events import DEFAULT_MAX_OUTPUT_BYTES
from tests.airflow_compat import TaskDeferred, needs_airflow_3_1
from tests.task_runtime import start_try

EXAMPLES = Path(__file__).parents[1] / "system"
ASSET = Asset("trigger_dev_outlet_test")


def operator(cls: type[Any] = TriggerTaskOperator, **kwargs: Any) -> Any:
    kwargs = {"task_id": "produce", "poll_interval": 0.05, "outlets": [ASSET], "wait_mode": "poll", **kwargs}
    with DAG("outlet_tests", schedule=None):
        return cls(**kwargs)


def test_worker_path_puts_the_run_on_the_asset_event(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", output={"rows": 3}))
    task, context, ti = start_try(operator(task_identifier="ingest"))

    assert task.execute(context) == {"rows": 3}

    run_id = ti.xcoms["run_id"]
    assert context["outlet_events"][ASSET].extra == {
        "run_id": run_id,
        "task_identifier": "ingest",
        "status": "COMPLETED",
        "run_url": f"{emulator.base_url}/runs/{run_id}",
        "output": {"rows": 3},
    }


def test_deferred_path_sets_the_extra_in_execute_complete(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", duration=30))
    task, context, ti = start_try(operator(task_identifier="ingest", deferrable=True))
    with pytest.raises(TaskDeferred):
        task.execute(context)
    assert context["outlet_events"][ASSET].extra == {}  # nothing before the run is done

    # The resume is a new process with fresh outlet accessors, as in Airflow.
    resumed, context, _ = start_try(operator(task_identifier="ingest", deferrable=True))
    big = "x" * (DEFAULT_MAX_OUTPUT_BYTES + 1)
    event = {"status": "success", "run_id": ti.xcoms["run_id"], "run_status": "COMPLETED", "output": big}
    assert resumed.execute_complete(context, event) == big

    extra = context["outlet_events"][ASSET].extra
    assert extra["run_id"] == ti.xcoms["run_id"]
    assert extra["status"] == "COMPLETED"
    assert "output" not in extra
    assert "over the 4096-byte limit" in extra["output_omitted"]


def test_failed_run_sets_no_extra(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", fail="bad row"))
    task, context, _ = start_try(operator(task_identifier="ingest"))
    with pytest.raises(Exception, match="bad row"):
        task.execute(context)
    assert context["outlet_events"][ASSET].extra == {}


def test_batch_puts_every_run_on_the_asset_event(emulator: EmulatorServer) -> None:
    task, context, _ = start_try(
        operator(TriggerBatchOperator, task_identifier="resize", payloads=[{"n": 1}, {"n": 2}])
    )

    result = task.execute(context)

    assert context["outlet_events"][ASSET].extra == {
        "batch_id": result["batch_id"],
        "run_ids": result["run_ids"],
        "task_identifier": "resize",
        "status": "COMPLETED",
        "outputs": [{"n": 1}, {"n": 2}],
    }


@needs_airflow_3_1("Outlets under dag.test() (Airflow 3.0 fails the task registering asset events)")
def test_example_dag_records_asset_events_with_the_run(
    dags_folder: Path, airflow_db: Path, emulator: EmulatorServer
) -> None:
    """``dag.test()`` of the example: Airflow itself stores the asset events with our extra."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from tests.airflow_compat import DagBag

    emulator.state.set_task(TaskBehaviour("ingest", output=lambda p: {"loaded": p["rows"]}))
    path = shutil.copy(EXAMPLES / "example_asset_producer.py", dags_folder)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors

    dag_run = bag.get_dag("example_asset_producer").test()

    assert dag_run.state == "success"
    [ti] = [ti for ti in dag_run.get_task_instances() if ti.task_id == "ingest"]
    run_id = ti.xcom_pull(task_ids="ingest", key="run_id")
    with create_session() as session:
        rows = (
            session.query(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
    events: dict[str, list[dict[str, Any]]] = {}
    for name, extra in rows:
        events.setdefault(name, []).append(extra)
    [ingested] = events["trigger_dev_ingested"]
    assert ingested["run_id"] == run_id
    assert ingested["output"] == {"loaded": 3}
    assert ingested["status"] == "COMPLETED"
    [thumbnails] = events["trigger_dev_thumbnails"]
    assert thumbnails["outputs"] == [{"image": 0}, {"image": 1}]
    assert len(thumbnails["run_ids"]) == 2
    # The consumer DAG (scheduled on the asset) still runs cleanly by hand.
    assert bag.get_dag("example_asset_consumer").test().state == "success"
