"""The deferrable wait triggers, run to their event against the real emulator."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.triggers.engine import incidents
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger
from tests.airflow_compat import deserialize, import_string, serialize
from tests.task_runtime import connection_env
from tests.task_states import TaskInstanceRef, task_state


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as c:
        yield c


async def first_event(trigger: Any) -> dict[str, Any]:
    try:
        event = await anext(trigger.run())
        return dict(event.payload)
    finally:
        await close_async_clients()


def start(client: Any, task: str = "hello-world", payload: Any = None) -> str:
    return str(client.tasks.trigger(task, payload).id)


def test_serialize_round_trips_as_plain_json() -> None:
    trigger = TriggerRunTrigger(
        "run_abc",
        poll_interval=2,
        end_time=1_900_000_000.5,
        cancel_on_kill=False,
        run_url="http://x/runs/run_abc",
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_trigger.triggers.runs.TriggerRunTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs == {
        "run_id": "run_abc",
        "trigger_conn_id": "trigger_default",
        "poll_interval": 2.0,
        "end_time": 1_900_000_000.5,
        "target_statuses": ["COMPLETED"],
        "failure_statuses": ["CANCELED", "CRASHED", "EXPIRED", "FAILED", "SYSTEM_FAILURE", "TIMED_OUT"],
        "cancel_on_kill": False,
        "run_url": "http://x/runs/run_abc",
        "wait_mode": "realtime",
        "feed_tag": None,
    }
    # The way Airflow stores and revives it (serde, then the classpath).
    revived = import_string(classpath)(**deserialize(serialize(kwargs)))
    assert revived.serialize() == (classpath, kwargs)


def test_batch_trigger_serialize_round_trips() -> None:
    trigger = TriggerBatchTrigger(["run_a", "run_b"], batch_id="batch_1", end_time=None)
    classpath, kwargs = trigger.serialize()
    revived = import_string(classpath)(**deserialize(serialize(kwargs)))
    assert revived.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


async def test_success_event_carries_the_output(emulator: EmulatorServer, client: Any) -> None:
    run_id = start(client, payload={"answer": 42})

    event = await first_event(TriggerRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "success"
    assert event["run_id"] == run_id
    assert event["run_ids"] == [run_id]
    assert event["run_status"] == "COMPLETED"
    assert event["output"] == {"answer": 42}


async def test_failed_event_carries_the_error_message(emulator: EmulatorServer, client: Any) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", fail="bad input row 7"))
    run_id = start(client)

    event = await first_event(TriggerRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "failed"
    assert event["run_status"] == "FAILED"
    assert "bad input row 7" in event["message"]
    assert "output" not in event


async def test_timeout_event_at_the_absolute_deadline(emulator: EmulatorServer, client: Any) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    run_id = start(client)

    event = await first_event(TriggerRunTrigger(run_id, poll_interval=0.05, end_time=time.time() + 0.2))

    assert event["status"] == "timeout"
    assert event["run_status"] in {"QUEUED", "EXECUTING"}


async def test_target_statuses_end_the_wait_early(emulator: EmulatorServer, client: Any) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    run_id = start(client)

    event = await first_event(
        TriggerRunTrigger(
            run_id, poll_interval=0.05, target_statuses=["EXECUTING"], failure_statuses=["CANCELED"]
        )
    )

    assert event["status"] == "success"
    assert event["run_status"] == "EXECUTING"


async def test_unknown_run_gives_an_error_event(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run 404 is marked retryable (a new run is briefly invisible): past the grace, it is gone."""
    monkeypatch.setattr(incidents, "NOT_VISIBLE_GRACE", 0.3)
    event = await first_event(TriggerRunTrigger("run_doesnotexist", poll_interval=0.05, wait_mode="poll"))

    assert event["status"] == "error"
    assert "run_doesnotexist" in event["message"]
    assert "not found" in event["message"]


@pytest.mark.parametrize(("state", "canceled"), [("failed", True), (None, True), ("deferred", False)])
async def test_on_kill_cancels_only_when_a_person_stopped_the_task(
    emulator: EmulatorServer, client: Any, state: str | None, canceled: bool
) -> None:
    """Marked failed or cleared (None): cancel. Still deferred: the triggerer is handing the trigger
    over to another triggerer (HA reassignment), so the run must go on."""
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    run_id = start(client)
    trigger = TriggerRunTrigger(run_id, poll_interval=0.05)
    trigger.task_instance = TaskInstanceRef()  # type: ignore[assignment]
    waiting = asyncio.create_task(anext(trigger.run()))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    waiting.cancel()  # what the triggerer does before awaiting on_kill()
    with task_state(state):
        await trigger.on_kill()
    await close_async_clients()

    assert (emulator.state.run_status(run_id) == "CANCELED") is canceled


async def test_on_kill_leaves_the_run_alone_without_cancel_on_kill(
    emulator: EmulatorServer, client: Any
) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    run_id = start(client)

    await TriggerRunTrigger(run_id, cancel_on_kill=False).on_kill()

    assert emulator.state.run_status(run_id) != "CANCELED"
    assert not [r for r in emulator.requests if r.path.endswith("/cancel")]


async def test_batch_trigger_reports_every_run(emulator: EmulatorServer, client: Any) -> None:
    emulator.state.set_task(TaskBehaviour("flaky", output=lambda p: p if p["ok"] else 1 / 0))
    ok, bad = start(client, "flaky", {"ok": True}), start(client, "flaky", {"ok": False})

    event = await first_event(TriggerBatchTrigger([ok, bad], batch_id="batch_x", poll_interval=0.05))

    assert event["status"] == "failed"
    assert event["run_ids"] == [ok, bad]
    assert event["runs"] == {ok: "COMPLETED", bad: "FAILED"}
    assert event["failed"] == [bad]
