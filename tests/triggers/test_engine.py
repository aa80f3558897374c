"""The wait engine under production's troubles: API incidents, permanent errors, runs nobody deployed.

Every path is real: the emulator over HTTP with injected faults, Airflow's task runtime
(``start_try``) or ``dag.test()`` for operators and sensors, the triggers' own ``run()``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.operators import TriggerTaskOperator
from airflow_provider_trigger.sensors import TriggerRunSensor
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger
from tests.airflow_compat import TaskDeferred
from tests.task_runtime import connection_env, start_try

STATUS_READS = "/api/v3/runs/*"


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(emulator.secret_key, base_url=emulator.base_url) as client:
        yield client


def outage(emulator: EmulatorServer, seconds: float, kind: int | str = 503) -> threading.Thread:
    """Every status read fails with ``kind`` for ``seconds`` (from now), then the API is back."""
    emulator.faults.inject("GET", STATUS_READS, kind=kind, count=None)

    def end() -> None:
        time.sleep(seconds)
        emulator.faults.clear()

    thread = threading.Thread(target=end, daemon=True)
    thread.start()
    return thread


def reads(emulator: EmulatorServer) -> int:
    return len([r for r in emulator.requests.filter("GET") if r.path.startswith("/api/v3/runs/")])


def operator(**kwargs: Any) -> TriggerTaskOperator:
    kwargs = {"task_id": "work", "task_identifier": "hello-world", "poll_interval": 0.1, **kwargs}
    with DAG("engine_tests", schedule=None):
        return TriggerTaskOperator(**kwargs)


@pytest.mark.parametrize("kind", [503, 429, "drop_before"])
def test_a_worker_side_wait_rides_out_an_incident_longer_than_the_client_retries(
    emulator: EmulatorServer, kind: int | str
) -> None:
    """Before the engine, a read failing past the client's retry budget failed the task."""
    emulator.state.set_task(TaskBehaviour("hello-world", duration=1.0, output={"ok": 1}))
    task, context, _ = start_try(operator(wait_mode="poll", timeout=60))
    outage(emulator, 3.0, kind)

    assert task.execute(context) == {"ok": 1}


async def test_deferred_waits_ride_out_an_incident_and_share_one_probe(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=2.5))
    run_ids = [str(client.tasks.trigger("hello-world", {"n": n}).id) for n in range(40)]
    triggers = [TriggerRunTrigger(r, poll_interval=0.5, wait_mode="poll") for r in run_ids]
    waits = [asyncio.create_task(anext(t.run())) for t in triggers]
    await asyncio.sleep(0.8)  # every wait polled at least once
    before = reads(emulator)
    ended = outage(emulator, 4.0)
    await asyncio.sleep(3.5)
    during = reads(emulator) - before
    await asyncio.to_thread(ended.join)
    events = [(await w).payload for w in waits]
    await close_async_clients()

    assert [e["status"] for e in events] == ["success"] * 40
    # Polling would have read 40 runs every 0.5 s (~280 reads); one wait probes for all of them.
    assert during < 40


def test_a_permanent_error_ends_the_wait_at_once_naming_it(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    task, context, _ = start_try(operator(wait_mode="poll", timeout=60))
    emulator.faults.inject("GET", STATUS_READS, kind=403, count=None)

    started = time.monotonic()
    with pytest.raises(TriggerWaitError, match=r"PermissionDeniedError \(403\)"):
        task.execute(context)
    assert time.monotonic() - started < 30


def test_a_deferred_sensor_with_soft_fail_fails_on_an_infrastructure_error() -> None:
    """Airflow skips any AirflowException of a resumed sensor with soft_fail; a TriggerWaitError is not
    a verdict on the run, so it fails the task instead."""
    with DAG("engine_tests_sensor", schedule=None):
        sensor = TriggerRunSensor(task_id="wait", run_id="run_x", deferrable=True, soft_fail=True)
    task, context, _ = start_try(sensor)
    event = {"status": "error", "run_id": "run_x", "message": "AuthenticationError (401): Invalid API key"}

    with pytest.raises(TriggerWaitError, match="Invalid API key"):
        task.resume_execution("execute_complete", {"event": event}, context)


def test_a_deferring_operator_gives_airflow_a_backstop_timeout(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    task, context, ti = start_try(operator(deferrable=True, timeout=120))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert deferred.value.timeout == timedelta(seconds=180)  # the wait's timeout + DEFER_GRACE
    assert deferred.value.trigger.end_time is not None
    # The "View run" link exists while the task waits, not only once it ends.
    assert ti.xcoms["_link_TriggerRunLink"] == f"{emulator.base_url}/runs/{ti.xcoms['run_id']}"


def test_a_run_of_a_task_nobody_deployed_gets_one_warning_in_the_task_log(
    dags_folder: Path, airflow_db: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo'd task id: production accepts the trigger and the run waits in PENDING_VERSION."""
    from tests.airflow_compat import DagBag

    path = dags_folder / "engine_typo_dag.py"
    path.write_text(
        "from airflow.sdk import DAG\n"
        "from airflow_provider_trigger.operators import TriggerTaskOperator\n"
        "with DAG('engine_typo_dag', schedule=None):\n"
        "    TriggerTaskOperator(task_id='typo', task_identifier='helo-world', poll_interval=0.2,\n"
        "                        wait_mode='poll', timeout=2)\n"
    )
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors

    dag_run = bag.get_dag("engine_typo_dag").test()

    log = capsys.readouterr().out
    assert dag_run.state == "failed"
    warning = (
        "is waiting in PENDING_VERSION: no deployed version in the dev environment runs task 'helo-world'"
    )
    assert log.count(warning) == 1
    assert "still PENDING_VERSION at the deadline" in log
