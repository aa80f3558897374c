"""TriggerWaitpointSensor in poke, reschedule and deferrable modes against the real emulator: released
by a completion, timing out (the token's timeout or the sensor's; ``soft_fail`` honoured), and failing
loudly (never skipped) on a permanent error."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.sensors import TriggerWaitpointSensor
from airflow_provider_trigger.triggers import TriggerWaitpointTrigger
from tests.airflow_compat import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from tests.task_runtime import connection_env, start_try

SOFT_FAIL = pytest.mark.parametrize(
    ("soft_fail", "error"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as c:
        yield c


def make_sensor(token_id: str, **kwargs: Any) -> TriggerWaitpointSensor:
    kwargs = {"task_id": "wait_for_token", "poke_interval": 0.05, "timeout": 30, **kwargs}
    with DAG("trigger_waitpoint_sensor_tests", schedule=None):
        return TriggerWaitpointSensor(token_id=token_id, **kwargs)


def execute(sensor: TriggerWaitpointSensor, **try_kwargs: Any) -> Any:
    task, context, _ = start_try(sensor, **try_kwargs)
    return task.execute(context)


async def first_event(trigger: TriggerWaitpointTrigger) -> dict[str, Any]:
    try:
        return dict((await anext(trigger.run())).payload)
    finally:
        await close_async_clients()


def test_poke_mode_is_released_by_a_completion(client: Any) -> None:
    token = client.waitpoints.create_token()
    later = threading.Timer(0.3, client.waitpoints.complete_token, args=(token.id, {"go": True}))
    later.start()
    try:
        sensor = make_sensor("{{ ti.xcom_pull(task_ids='create', key='token_id') }}")
        assert execute(sensor, xcoms={"token_id": token.id}) == {"go": True}
    finally:
        later.join()


def test_reschedule_mode_frees_the_slot_until_completed(client: Any) -> None:
    token = client.waitpoints.create_token()
    with pytest.raises(AirflowRescheduleException):
        execute(make_sensor(token.id, mode="reschedule", poke_interval=5))
    client.waitpoints.complete_token(token.id, ["done"])
    assert execute(make_sensor(token.id, mode="reschedule")) == ["done"]


def test_deferrable_is_released_by_a_completion(client: Any) -> None:
    token = client.waitpoints.create_token()
    task, context, _ = start_try(make_sensor(token.id, deferrable=True, timeout=120))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    assert deferred.value.timeout == timedelta(seconds=120)
    trigger = deferred.value.trigger
    assert isinstance(trigger, TriggerWaitpointTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_trigger.triggers.waitpoints.TriggerWaitpointTrigger"
    assert kwargs["token_id"] == token.id

    threading.Timer(0.3, client.waitpoints.complete_token, args=(token.id, {"n": 1})).start()
    event = asyncio.run(first_event(TriggerWaitpointTrigger(**kwargs)))
    assert event["status"] == "success" and event["token_status"] == "COMPLETED"
    assert task.resume_execution("execute_complete", {"event": event}, context) == {"n": 1}


def test_an_already_completed_token_needs_no_triggerer(client: Any) -> None:
    token = client.waitpoints.create_token()
    client.waitpoints.complete_token(token.id)
    assert execute(make_sensor(token.id, deferrable=True)) is None  # completed without data


@SOFT_FAIL
@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_a_token_that_times_out(client: Any, mode: str, soft_fail: bool, error: type[Exception]) -> None:
    token = client.waitpoints.create_token(timeout="1s")
    kwargs: dict[str, Any] = {"soft_fail": soft_fail}
    if mode == "deferrable":
        task, context, _ = start_try(make_sensor(token.id, deferrable=True, **kwargs))
        with pytest.raises(TaskDeferred) as deferred:
            task.execute(context)
        event = asyncio.run(first_event(deferred.value.trigger))
        assert event["status"] == "timeout" and event["token_status"] == "TIMED_OUT"
        with pytest.raises(error) as excinfo:
            task.resume_execution("execute_complete", {"event": event}, context)
    else:
        if mode == "reschedule":
            time.sleep(1.1)
            kwargs["mode"] = "reschedule"
        with pytest.raises(error) as excinfo:
            execute(make_sensor(token.id, **kwargs))
    assert f"Waitpoint {token.id} timed out at" in f"{excinfo.value} {excinfo.value.__cause__}"


@SOFT_FAIL
def test_the_sensors_own_timeout(client: Any, soft_fail: bool, error: type[Exception]) -> None:
    token = client.waitpoints.create_token()
    with pytest.raises(error):
        execute(make_sensor(token.id, timeout=0.3, soft_fail=soft_fail))
    task, context, _ = start_try(make_sensor(token.id, deferrable=True, timeout=0.3, soft_fail=soft_fail))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    event = asyncio.run(first_event(deferred.value.trigger))
    assert event["status"] == "timeout" and event["token_status"] is None
    with pytest.raises(error):
        task.resume_execution("execute_complete", {"event": event}, context)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_missing_token_fails_loudly_even_with_soft_fail(emulator: EmulatorServer, deferrable: bool) -> None:
    sensor = make_sensor("waitpoint_doesnotexist", soft_fail=True, deferrable=deferrable)
    with pytest.raises(TriggerWaitError, match="Waitpoint not found"):
        execute(sensor)
    with pytest.raises(ValueError, match="waitpoint token id"):
        execute(make_sensor("run_123", soft_fail=True))


def test_the_trigger_reports_a_permanent_error_as_an_error_event(client: Any) -> None:
    task, context, _ = start_try(make_sensor("waitpoint_doesnotexist", soft_fail=True, deferrable=True))
    event = asyncio.run(first_event(TriggerWaitpointTrigger("waitpoint_doesnotexist", poll_interval=0.05)))
    assert event["status"] == "error" and "Waitpoint not found" in event["message"]
    with pytest.raises(TriggerWaitError):  # never a soft-fail skip
        task.resume_execution("execute_complete", {"event": event}, context)


def test_api_incidents_are_waited_out(client: Any, emulator: EmulatorServer) -> None:
    token = client.waitpoints.create_token()
    client.waitpoints.complete_token(token.id, "ok")
    emulator.faults.inject("GET", "/api/v1/waitpoints/tokens/*", kind=503, count=3)
    assert execute(make_sensor(token.id)) == "ok"
    event = asyncio.run(first_event(TriggerWaitpointTrigger(token.id, poll_interval=0.05)))
    assert event["status"] == "success" and event["data"] == "ok"


@SOFT_FAIL
def test_deferrable_timeout_from_airflow(client: Any, soft_fail: bool, error: type[Exception]) -> None:
    """Airflow's own deferral timeout resumes with ``__fail__``: soft_fail skips it on every minor."""
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    token = client.waitpoints.create_token()
    task, context, _ = start_try(make_sensor(token.id, deferrable=True, soft_fail=soft_fail))
    with pytest.raises(error):
        task.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context)
