"""Run-management operators against the emulator, with a real Airflow Connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerRunFailedError
from airflow_provider_trigger.operators.runs import (
    TriggerBulkActionOperator,
    TriggerCancelRunOperator,
    TriggerReplayRunOperator,
    TriggerRescheduleRunOperator,
)
from tests.task_runtime import start_try


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    conn = {"conn_type": "trigger", "host": emulator.base_url, "password": emulator.secret_key}
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", json.dumps(conn))
    emulator.state.set_task(TaskBehaviour("slow", duration=600))
    emulator.state.set_task(TaskBehaviour("quick", duration=0.05))
    emulator.state.set_task(TaskBehaviour("broken", duration=0.05, fail="boom"))
    return emulator


@pytest.fixture
def client(conn: EmulatorServer) -> Iterator[TriggerClient]:
    with TriggerClient(api_key=conn.secret_key, base_url=conn.base_url) as client:
        yield client


def _run(operator: Any) -> Any:
    """One try of the operator with Airflow's real task instance and template context."""
    from airflow.sdk import DAG

    DAG("trigger_runs_tests", schedule=None).add_task(operator)
    task, context, _ = start_try(operator)
    return task.execute(context)


def _writes(emulator: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET"]


def test_cancel_a_running_run(conn: EmulatorServer, client: TriggerClient) -> None:
    run_id = client.tasks.trigger("slow", {"n": 1}).id
    assert _run(TriggerCancelRunOperator(task_id="cancel", run_id=run_id)) == run_id
    assert conn.state.run_status(run_id) == "CANCELED"


def test_replay_returns_the_new_run_and_can_wait_for_it(conn: EmulatorServer, client: TriggerClient) -> None:
    original = client.tasks.trigger("quick", {"n": 2}).id
    new_id = _run(
        TriggerReplayRunOperator(
            task_id="replay", run_id=original, wait_for_completion=True, poll_interval=0.05
        )
    )
    assert new_id != original and new_id.startswith("run_")
    assert conn.state.run_status(new_id) == "COMPLETED"
    assert conn.state.runs[new_id].task == "quick"


def test_replay_wait_fails_when_the_new_run_fails(conn: EmulatorServer, client: TriggerClient) -> None:
    original = client.tasks.trigger("broken", {}).id
    with pytest.raises(TriggerRunFailedError, match="boom"):
        _run(
            TriggerReplayRunOperator(
                task_id="r", run_id=original, wait_for_completion=True, poll_interval=0.05
            )
        )


def test_reschedule_a_delayed_run(conn: EmulatorServer, client: TriggerClient) -> None:
    run_id = client.tasks.trigger("quick", {}, delay="1h").id
    result = _run(TriggerRescheduleRunOperator(task_id="resched", run_id=run_id, delay="2h"))
    assert result["id"] == run_id and result["status"] == "DELAYED"
    assert result["delayed_until"]
    assert conn.state.run_status(run_id) == "DELAYED"


def test_bulk_cancel_by_ids_waits_for_the_action(conn: EmulatorServer, client: TriggerClient) -> None:
    run_ids = [client.tasks.trigger("slow", {"i": i}).id for i in range(3)]
    result = _run(
        TriggerBulkActionOperator(
            task_id="bulk", action="cancel", run_ids=run_ids, wait_for_completion=True, poll_interval=0.05
        )
    )
    assert result["id"].startswith("bulk_") and result["status"] == "COMPLETED"
    assert result["counts"]["total"] == 3
    assert {conn.state.run_status(r) for r in run_ids} == {"CANCELED"}


def test_bulk_replay_by_filter_returns_the_action_id(conn: EmulatorServer, client: TriggerClient) -> None:
    client.tasks.trigger("quick", {})
    conn.state.requests.clear()
    bulk_id = _run(
        TriggerBulkActionOperator(
            task_id="bulk", action="replay", filter={"task_identifier": ["quick"]}, name="again"
        )
    )
    assert bulk_id.startswith("bulk_")
    (request,) = [r for r in conn.requests if r.method == "POST"]
    assert request.json["action"] == "replay" and request.json["name"] == "again"
    assert request.json["filter"] == {"taskIdentifier": ["quick"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "delete", "run_ids": ["run_1"]}, "'cancel' or 'replay'"),
        ({"action": "cancel"}, "exactly one of filter= or run_ids="),
        ({"action": "cancel", "filter": {"status": ["QUEUED"]}, "run_ids": ["run_1"]}, "exactly one"),
        ({"action": "cancel", "filter": {"status": []}}, "at least one field"),
        ({"action": "cancel", "run_ids": []}, "non-empty"),
        ({"action": "cancel", "run_ids": [f"run_{i}" for i in range(501)]}, "at most 500"),
        ({"action": "cancel", "filter": {"taskIdentifier": "x"}}, "unknown run filter"),
    ],
)
def test_bulk_bad_input_fails_before_any_request(
    conn: EmulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    conn.state.requests.clear()
    with pytest.raises(ValueError, match=message):
        _run(TriggerBulkActionOperator(task_id="bulk", **kwargs))
    assert list(conn.requests) == []


@pytest.mark.parametrize(
    "operator",
    [
        lambda: TriggerCancelRunOperator(task_id="c", run_id=""),
        lambda: TriggerReplayRunOperator(task_id="r", run_id="  "),
        lambda: TriggerRescheduleRunOperator(task_id="s", run_id="run_1", delay=""),
    ],
)
def test_missing_ids_fail_before_any_request(conn: EmulatorServer, operator: Any) -> None:
    conn.state.requests.clear()
    with pytest.raises(ValueError, match="required"):
        _run(operator())
    assert list(conn.requests) == []


def test_operators_do_no_io_in_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_TRIGGER_DEFAULT", raising=False)
    op = TriggerBulkActionOperator(task_id="b", action="cancel", run_ids=["run_1"], trigger_conn_id="missing")
    assert "hook" not in op.__dict__
