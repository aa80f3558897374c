"""The example DAGs end to end with ``dag.test()``: real scheduling loop, XCom, mapping, triggers inline."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from tests.task_runtime import connection_env

EXAMPLES = Path(__file__).parents[1] / "system"


@pytest.fixture
def run_example(
    dags_folder: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> Callable[[str], Any]:
    """Copy an example DAG file into the dags folder, parse it, ``dag.test()`` it; return the DAG run."""
    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))

    def run(dag_id: str, **test_kwargs: Any) -> Any:
        path = Path(shutil.copy(EXAMPLES / f"{dag_id}.py", dags_folder))
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test(**test_kwargs)

    return run


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    [ti] = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id and ti.map_index == map_index]
    return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index)


def test_trigger_wait_and_pass_the_output_downstream(run_example: Any, emulator: EmulatorServer) -> None:
    dag_run = run_example("example_trigger_task", run_conf={"name": "Lin"})

    assert dag_run.state == "success"
    assert xcom(dag_run, "report") == "Trigger.dev answered {'name': 'Lin'}"
    run_id = xcom(dag_run, "hello", "run_id")
    assert xcom(dag_run, "hello", "run_url") == f"{emulator.base_url}/runs/{run_id}"
    # The extra link, computed by the task runner from the XCom'd URL.
    assert xcom(dag_run, "hello", "_link_TriggerRunLink") == f"{emulator.base_url}/runs/{run_id}"
    # Mapping: one run per payload, each with its own idempotency key.
    keys = sorted(run.idempotency_key_user for run in emulator.state.runs.values())
    prefix = f"airflow/example_trigger_task/{{}}/{dag_run.run_id}/{{}}"
    assert keys == [
        prefix.format("hello", -1),
        prefix.format("hello_each", 0),
        prefix.format("hello_each", 1),
    ]
    assert [xcom(dag_run, "hello_each", map_index=i) for i in (0, 1)] == [{"name": "Ada"}, {"name": "Grace"}]


def test_deferrable_sensor_and_batch(run_example: Any, emulator: EmulatorServer) -> None:
    """Both the sensor and the batch defer; dag.test() runs their triggers inline, then resumes them."""
    emulator.state.set_task(
        TaskBehaviour("hello-world", duration=1.5)
    )  # the sensor's first poke is too early
    dag_run = run_example("example_trigger_deferrable")

    assert dag_run.state == "success"
    assert xcom(dag_run, "wait") == {"name": "deferred"}
    assert xcom(dag_run, "total") == 0 + 1 + 2
    assert len(emulator.state.runs) == 1 + 3


def test_a_batch_with_a_failed_item_fails_the_task_naming_that_run(
    dags_folder: Path,
    airflow_db: Path,
    emulator: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``dag.test()``: production turns an item that cannot trigger (over 3 MB) into a failed run of
    the batch; the task waits for processing and fails naming that run, the others complete."""
    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    emulator.state.set_task(TaskBehaviour("resize", output=lambda p: {"size": len(p)}))
    path = dags_folder / "batch_failed_item_dag.py"
    path.write_text(
        "from airflow.sdk import DAG\n"
        "from airflow_provider_trigger.operators import TriggerBatchOperator\n"
        "with DAG('batch_failed_item_dag', schedule=None):\n"
        "    TriggerBatchOperator(task_id='fan_out', task_identifier='resize', poll_interval=0.2,\n"
        "                         payloads=['a', 'x' * (3 * 1024 * 1024 + 10), 'c'], wait_mode='poll')\n"
    )
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors

    dag_run = bag.get_dag("batch_failed_item_dag").test()

    log = capsys.readouterr().out
    run_ids = [run.id for run in sorted(emulator.state.runs.values(), key=lambda run: run.number)]
    assert dag_run.state == "failed"
    assert len(run_ids) == 3
    assert "1 of 3 Trigger.dev runs of batch" in log
    assert f"{run_ids[1]} SYSTEM_FAILURE" in log
    assert [emulator.state.run_status(r) for r in (run_ids[0], run_ids[2])] == ["COMPLETED", "COMPLETED"]
