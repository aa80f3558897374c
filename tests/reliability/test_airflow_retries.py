"""Figure 2: an Airflow retry re-attaches to the run its first try started; after a FAILED run it starts anew.

Two ways the first try dies after its run exists:
- inside Airflow's own retry loop (``dag.test()``, ``retries=1``): the emulator answers the first status
  check with a non-retryable 500, so try 1 fails while waiting and the scheduler runs try 2;
- a real process death: try 1 runs in a child process that is SIGKILLed while it waits (no ``on_kill``,
  as with an OOM kill), then try 2 runs here with the same DAG run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from tests.airflow_compat import needs_airflow_3_3
from tests.task_runtime import DAG_RUN_ID, connection_env, start_try

ROOT = Path(__file__).parents[2]
DAG_ID = "reliability_retries"
DAG_FILE = f"""
from datetime import datetime, timedelta
from airflow.sdk import dag
from airflow_provider_trigger.operators import TriggerTaskOperator

@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def {DAG_ID}():
    TriggerTaskOperator(
        task_id="work",
        task_identifier="reliable",
        payload={{"order": 42}},
        poll_interval=0.1,
        retries=1,
        retry_delay=timedelta(seconds=0),
        durable=DURABLE,
    )

{DAG_ID}()
"""


DURABLE_MODES = [
    pytest.param(True, id="task state store", marks=needs_airflow_3_3("Durable tasks (task state store)")),
    pytest.param(False, id="idempotency key only"),
]


@pytest.fixture
def run_dag(
    dags_folder: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> Any:
    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    path = dags_folder / f"{DAG_ID}.py"

    def run(durable: bool = True) -> Any:
        path.write_text(DAG_FILE.replace("DURABLE", str(durable)))
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        dag_run = bag.get_dag(DAG_ID).test()
        [ti] = dag_run.get_task_instances()
        return dag_run, ti

    yield run
    path.unlink(missing_ok=True)


@pytest.mark.parametrize("durable", DURABLE_MODES)
def test_airflow_retry_after_the_first_try_died_reattaches(
    run_dag: Any, emulator: EmulatorServer, durable: bool
) -> None:
    emulator.state.set_task(TaskBehaviour("reliable", duration=0.3, output=lambda p: {"shipped": p["order"]}))
    # try 1 dies while waiting: its status checks get an error the client does not retry (the realtime
    # feed falls back to polling on errors, so both routes fail once)
    for route in ("/realtime/v1/runs/*", "/api/v3/runs/*"):
        emulator.faults.inject("GET", route, 403, count=1, body={"error": "simulated worker death"})

    dag_run, ti = run_dag(durable)

    [run] = emulator.state.runs.values()
    assert dag_run.state == "success"
    assert ti.try_number == 2  # Airflow really retried
    assert ti.xcom_pull(task_ids="work") == {"shipped": 42}
    assert ti.xcom_pull(task_ids="work", key="run_id") == run.id
    triggers = emulator.requests.filter("POST", "/api/v1/tasks/reliable/trigger")
    # try 2 found the run from the task state store, or by triggering again with the same key
    assert len(triggers) == (1 if durable else 2)


@pytest.mark.parametrize("durable", DURABLE_MODES)
def test_airflow_retry_after_a_failed_run_starts_a_second_run(
    run_dag: Any, emulator: EmulatorServer, durable: bool
) -> None:
    attempts: list[int] = []

    def flaky(payload: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("card declined")
        return {"shipped": payload["order"]}

    emulator.state.set_task(TaskBehaviour("reliable", duration=0.2, output=flaky))

    dag_run, ti = run_dag(durable)

    first, second = emulator.state.runs.values()
    assert dag_run.state == "success" and ti.try_number == 2
    assert emulator.state.run_status(first.id) == "FAILED"
    assert emulator.state.run_status(second.id) == "COMPLETED"
    assert ti.xcom_pull(task_ids="work") == {"shipped": 42}
    assert ti.xcom_pull(task_ids="work", key="run_id") == second.id


_CHILD = textwrap.dedent(
    """
    import sys
    from airflow.sdk import DAG
    from airflow_provider_trigger.operators import TriggerTaskOperator
    from tests.task_runtime import start_try

    with DAG("{dag_id}", schedule=None):
        op = TriggerTaskOperator(task_id="work", task_identifier="reliable", payload={{"order": 7}},
                                 poll_interval=0.05, cancel_on_kill=True)
    task, context, ti = start_try(op, try_number=1)
    task.execute(context)
    sys.exit(3)  # never reached: the parent kills this process while it waits
    """
)


def test_retry_after_the_worker_process_was_killed_reattaches(
    emulator: EmulatorServer, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_trigger.operators import TriggerTaskOperator

    emulator.state.set_task(TaskBehaviour("reliable", duration=3.0, output=lambda p: {"shipped": p["order"]}))
    conn = connection_env(emulator)
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", conn)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(dag_id=DAG_ID)],
        cwd=ROOT,
        env={**os.environ, "AIRFLOW_CONN_TRIGGER_DEFAULT": conn, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not [r for r in emulator.requests.all() if r.method == "GET" and "/runs/run_" in r.path]:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started waiting on its run"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)  # no on_kill, no cleanup: the run keeps going
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    [first] = emulator.state.runs.values()
    assert child.returncode == -signal.SIGKILL
    assert emulator.state.run_status(first.id) in {"QUEUED", "EXECUTING"}

    with DAG(DAG_ID, schedule=None):
        operator = TriggerTaskOperator(
            task_id="work", task_identifier="reliable", payload={"order": 7}, poll_interval=0.05
        )
    task, context, ti = start_try(operator, try_number=2, run_id=DAG_RUN_ID)
    output = task.execute(context)

    assert output == {"shipped": 7}
    assert list(emulator.state.runs) == [first.id]
    assert ti.xcoms["run_id"] == first.id
    assert not emulator.requests.filter("POST", f"/api/v2/runs/{first.id}/cancel")
