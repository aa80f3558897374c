"""TriggerRunSensor in poke, reschedule and deferrable modes, against the real emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.sensors.runs import TriggerRunSensor
from airflow_provider_trigger.triggers.engine import incidents
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger
from tests.airflow_compat import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from tests.task_runtime import connection_env, start_try


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def start_run(emulator: EmulatorServer) -> Any:
    def start(payload: Any = None, **behaviour: Any) -> str:
        emulator.state.set_task(TaskBehaviour("hello-world", **behaviour))
        with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as client:
            return str(client.tasks.trigger("hello-world", payload).id)

    return start


def make_sensor(run_id: str, **kwargs: Any) -> TriggerRunSensor:
    kwargs = {"task_id": "wait_for_run", "poke_interval": 0.05, "timeout": 30, **kwargs}
    with DAG("trigger_sensor_tests", schedule=None):
        return TriggerRunSensor(run_id=run_id, **kwargs)


def execute(sensor: TriggerRunSensor, **try_kwargs: Any) -> Any:
    task, context, _ = start_try(sensor, **try_kwargs)
    return task.execute(context)


def test_poke_mode_returns_the_output(start_run: Any) -> None:
    run_id = start_run({"rows": 3}, duration=0.3)
    assert execute(make_sensor(run_id)) == {"rows": 3}


def test_run_id_is_templated(start_run: Any) -> None:
    run_id = start_run({"rows": 1})
    sensor = make_sensor("{{ ti.xcom_pull(task_ids='start', key='run_id') }}")
    assert execute(sensor, xcoms={"run_id": run_id}) == {"rows": 1}


def test_target_statuses(start_run: Any) -> None:
    run_id = start_run(duration=30)
    assert execute(make_sensor(run_id, target_statuses=["EXECUTING"])) is None


def test_failure_status_fails_at_once_without_retries(start_run: Any, emulator: EmulatorServer) -> None:
    run_id = start_run(fail="schema mismatch")
    with pytest.raises(AirflowFailException, match="schema mismatch") as excinfo:
        execute(make_sensor(run_id, retries=3))
    assert f"{emulator.base_url}/runs/{run_id}" in str(excinfo.value)


@pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_poke_mode_timeout(start_run: Any, soft_fail: bool, error: type[Exception]) -> None:
    run_id = start_run(duration=30)
    with pytest.raises(error):
        execute(make_sensor(run_id, timeout=0.2, soft_fail=soft_fail))


def test_reschedule_mode_frees_the_slot_until_done(start_run: Any) -> None:
    run_id = start_run({"ok": 1}, duration=30)
    with pytest.raises(AirflowRescheduleException):
        execute(make_sensor(run_id, mode="reschedule", poke_interval=5))

    finished = start_run({"ok": 2}, duration=0, queue_time=0)
    assert execute(make_sensor(finished, mode="reschedule")) == {"ok": 2}


@pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_reschedule_mode_timeout(start_run: Any, soft_fail: bool, error: type[Exception]) -> None:
    run_id = start_run(duration=30)
    task, context, ti = start_try(make_sensor(run_id, mode="reschedule", timeout=60, soft_fail=soft_fail))
    ti.first_reschedule_date = datetime.now(UTC) - timedelta(minutes=5)  # first poke was 5 minutes ago
    with pytest.raises(error):
        task.execute(context)


def test_deferrable_defers_with_the_sensor_timeout_then_completes(start_run: Any) -> None:
    run_id = start_run({"deferred": True}, duration=0.3)
    task, context, _ = start_try(make_sensor(run_id, deferrable=True, timeout=120))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert deferred.value.timeout == timedelta(seconds=120)
    trigger = deferred.value.trigger
    assert isinstance(trigger, TriggerRunTrigger)
    assert trigger.cancel_on_kill is False  # the sensor does not own the run
    event = asyncio.run(first_event(trigger))
    assert task.resume_execution("execute_complete", {"event": event}, context) == {"deferred": True}


@pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_deferrable_timeout_from_the_trigger(start_run: Any, soft_fail: bool, error: type[Exception]) -> None:
    run_id = start_run(duration=30)
    task, context, _ = start_try(make_sensor(run_id, deferrable=True, timeout=0.3, soft_fail=soft_fail))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    event = asyncio.run(first_event(deferred.value.trigger))
    assert event["status"] == "timeout"
    with pytest.raises(error):
        task.resume_execution("execute_complete", {"event": event}, context)


@pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_deferrable_timeout_from_airflow(start_run: Any, soft_fail: bool, error: type[Exception]) -> None:
    """The triggerer's own deferral timeout (``timeout=`` passed to ``defer``) resumes with ``__fail__``."""
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    task, context, _ = start_try(make_sensor(start_run(duration=30), deferrable=True, soft_fail=soft_fail))
    with pytest.raises(error):
        task.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context)


def test_deferrable_failure_fails_at_once(start_run: Any) -> None:
    run_id = start_run(duration=0.2, fail="late failure")
    task, context, _ = start_try(make_sensor(run_id, deferrable=True))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    event = asyncio.run(first_event(deferred.value.trigger))
    with pytest.raises(AirflowFailException, match="late failure"):
        task.resume_execution("execute_complete", {"event": event}, context)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_run_that_already_failed_is_skipped_with_soft_fail(start_run: Any, deferrable: bool) -> None:
    run_id = start_run(fail="nope", duration=0, queue_time=0)
    with pytest.raises(AirflowSkipException):
        execute(make_sensor(run_id, soft_fail=True, deferrable=deferrable))


def test_bad_run_ids_fail_clearly(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="starting with 'run_'"):
        execute(make_sensor("batch_123"))
    assert not [r for r in emulator.requests if "/runs/" in r.path]
    # every run 404 is marked retryable (new runs are briefly invisible); past the grace it fails
    monkeypatch.setattr(incidents, "NOT_VISIBLE_GRACE", 0.3)
    with pytest.raises(TriggerWaitError, match="run run_doesnotexist failed: the run was not found"):
        execute(make_sensor("run_doesnotexist"))


def test_bad_status_sets_fail_at_parse_time() -> None:
    with pytest.raises(ValueError, match="both"):
        make_sensor("run_x", target_statuses=["COMPLETED"], failure_statuses=["COMPLETED"])
    with pytest.raises(ValueError, match="not one string"):
        make_sensor("run_x", target_statuses="COMPLETED")


async def first_event(trigger: TriggerRunTrigger) -> dict[str, Any]:
    try:
        return dict((await anext(trigger.run())).payload)
    finally:
        await close_async_clients()
