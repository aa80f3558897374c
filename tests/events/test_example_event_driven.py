"""The README example end to end: "when the Trigger.dev task ``ingest`` completes, run the DAG ``transform``".

The example DAG file is parsed and written to the metadata DB as the DAG processor does (which creates
the watcher's Trigger row), the row runs in Airflow's TriggerRunner, and its events are submitted as
the triggerer's supervisor does: Airflow records asset events and queues a ``transform`` DAG run.
Only the scheduler loop that turns the queue entry into a DAG run is not run here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import close_async_clients
from tests.airflow_compat import run_trigger_workload, sync_bundle_to_db
from tests.events.conftest import InProcessSupervisor, Triggerer, wait_until

EXAMPLES = Path(__file__).parents[1] / "system"
ASSET = "trigger_dev_ingest_completed"


def sync_dags_folder() -> None:
    """Parse the dags folder and write DAGs, assets and watcher triggers to the DB (the DAG processor)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        sync_bundle_to_db(bundle)


def unpause(dag_id: str) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == dag_id).update({"is_paused": False})


async def test_ingest_completing_queues_a_transform_run(
    dags_folder: Path, emulator: EmulatorServer, supervisor: InProcessSupervisor
) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.trigger import Trigger
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session

    emulator.state.set_task(TaskBehaviour("ingest", output=lambda p: {"rows": 12}))
    shutil.copy(EXAMPLES / "example_event_driven.py", dags_folder)
    sync_dags_folder()
    unpause("transform")  # a paused DAG's watcher does not run
    sync_dags_folder()

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.name == ASSET).one()
        [trigger] = asset.triggers
        # The DAG file polls every 30 s; the test keeps every other argument of the row.
        kwargs = {**Trigger._decrypt_kwargs(trigger.encrypted_kwargs), "poll_interval": 0.05}
        workload = run_trigger_workload(
            trigger.id,
            trigger.classpath,
            Trigger.encrypt_kwargs(kwargs),
            {a.name: a.uri for a in trigger.assets},
        )

    triggerer = Triggerer()
    triggerer.runner.to_create.append(workload)
    await triggerer.runner.create_triggers()
    try:
        await wait_until(
            lambda: any(r.path == "/api/v1/runs" for r in emulator.requests), "the watcher's first look"
        )
        from airflow_provider_trigger.client import TriggerClient

        with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as client:
            run_id = str(client.tasks.trigger("ingest", {"source": "s3://landing/x"}).id)
        await wait_until(lambda: len(triggerer.payloads) >= 1, "the ingest run's event")
    finally:
        await triggerer.stop(trigger.id)
        await close_async_clients()

    [(trigger_id, fired)] = triggerer.events
    Trigger.submit_event(trigger_id, TriggerEvent(fired.payload))  # what the supervisor does

    with create_session() as session:
        [event] = session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id).all()
        queued = session.query(AssetDagRunQueue).filter(AssetDagRunQueue.asset_id == asset.id).all()
        assert event.extra["from_trigger"] is True
        assert event.extra["payload"]["run_id"] == run_id
        assert event.extra["payload"]["output"] == {"rows": 12}
        assert [q.target_dag_id for q in queued] == ["transform"]


def test_the_example_dags_run_with_dag_test(
    dags_folder: Path, airflow_db: Path, emulator: EmulatorServer
) -> None:
    """What the demo does with every example: ``ingest_now`` starts a run; ``transform`` by hand has none."""
    from tests.airflow_compat import DagBag

    path = shutil.copy(EXAMPLES / "example_event_driven.py", dags_folder)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors

    assert bag.get_dag("ingest_now").test().state == "success"
    [run] = emulator.state.runs.values()
    assert run.task == "ingest"
    transform = bag.get_dag("transform").test()
    assert transform.state == "success"
    [ti] = transform.get_task_instances()
    assert ti.xcom_pull(task_ids="load") == []
