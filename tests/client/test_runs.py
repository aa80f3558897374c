"""client.runs and client.runs.bulk against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airflow_provider_trigger.client import (
    FAILURE_STATUSES,
    Run,
    RunStatus,
    TriggerClient,
    UnprocessableEntityError,
)
from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour


@pytest.fixture
def clock(emulator: EmulatorServer) -> Iterator[ManualClock]:
    clock = ManualClock()
    emulator.state.clock = clock
    yield clock


def _finish(clock: ManualClock) -> None:
    clock.advance(3600)


def test_retrieve_follows_the_lifecycle_to_success(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("echo", duration=5, output={"ok": True}))
    handle = client.tasks.trigger("echo", {"in": 1})
    run = client.runs.retrieve(handle.id)
    assert isinstance(run, Run) and not run.is_terminal
    _finish(clock)
    run = client.runs.retrieve(handle.id)
    assert run.status is RunStatus.COMPLETED
    assert run.is_terminal and run.is_success and not run.is_failed
    assert run.output == {"ok": True} and run.task_identifier == "echo"
    assert run.payload == {"in": 1}


@pytest.mark.parametrize("outcome", ["FAILED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"])
def test_failed_outcomes_are_terminal_failures(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock, outcome: str
) -> None:
    emulator.state.set_task(TaskBehaviour("bad", duration=1, outcome=outcome))
    handle = client.tasks.trigger("bad", {})
    _finish(clock)
    run = client.runs.retrieve(handle.id)
    assert run.status == outcome and run.status in FAILURE_STATUSES
    assert run.is_terminal and run.is_failed and not run.is_success


def test_cancel_then_terminal(client: TriggerClient, emulator: EmulatorServer, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=100))
    handle = client.tasks.trigger("slow", {})
    assert client.runs.cancel(handle.id).id == handle.id
    run = client.runs.retrieve(handle.id)
    assert run.status is RunStatus.CANCELED and run.is_failed


def test_replay_returns_a_new_run(client: TriggerClient) -> None:
    handle = client.tasks.trigger("hello-world", {"p": 1})
    replayed = client.runs.replay(handle.id)
    assert replayed.id != handle.id and replayed.id.startswith("run_")
    assert client.runs.retrieve(replayed.id).payload == {"p": 1}


def test_reschedule_a_delayed_run(client: TriggerClient, emulator: EmulatorServer) -> None:
    handle = client.tasks.trigger("hello-world", {}, delay="1h")
    assert client.runs.retrieve(handle.id).status is RunStatus.DELAYED
    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    run = client.runs.reschedule(handle.id, delay=when)
    assert run.id == handle.id
    assert emulator.requests.all()[-1].json == {"delay": "2031-05-06T07:08:09.000Z"}


def test_reschedule_a_running_run_is_unprocessable(client: TriggerClient) -> None:
    handle = client.tasks.trigger("hello-world", {})
    with pytest.raises(UnprocessableEntityError):
        client.runs.reschedule(handle.id, delay="1h")


def test_metadata_and_tags(client: TriggerClient, emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=100))
    handle = client.tasks.trigger("slow", {}, tags=["a"])
    updated = client.runs.update_metadata(handle.id, {"progress": 50})
    assert updated.metadata == {"progress": 50}
    stored = client.runs.retrieve_metadata(handle.id)
    assert stored.metadata in ({"progress": 50}, '{"progress":50}', '{"progress": 50}')
    client.runs.add_tags(handle.id, ["b", "c"])
    assert set(client.runs.retrieve(handle.id).tags) == {"a", "b", "c"}
    client.runs.add_tags(handle.id, "d")
    assert emulator.requests.all()[-1].json == {"tags": ["d"]}


def test_result_is_none_until_finished(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("echo", duration=5, output=[1, 2]))
    handle = client.tasks.trigger("echo", {})
    assert client.runs.result(handle.id) is None
    _finish(clock)
    result = client.runs.result(handle.id)
    assert result is not None and result.ok and result.id == handle.id


def test_events_and_trace(client: TriggerClient) -> None:
    handle = client.tasks.trigger("hello-world", {})
    assert client.runs.events(handle.id).model_dump() is not None
    assert client.runs.trace(handle.id).model_dump() is not None


def test_list_filters_on_the_wire(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.runs.list(
        status=["COMPLETED", RunStatus.FAILED],
        task_identifier="hello-world",
        version=["1", "2"],
        tag=["x", "y"],
        from_=datetime(2026, 1, 1, tzinfo=UTC),
        to=1_800_000_000_000,
        period="7d",
        is_test=False,
        schedule="sched_1",
        bulk_action="bulk_1",
        batch="batch_1",
        queue=[{"type": "task", "name": "hello-world"}, "custom-q"],
        machine=["small-1x"],
        region="eu",
        limit=10,
    )
    assert emulator.requests.all()[-1].query == {
        "filter[status]": "COMPLETED,FAILED",
        "filter[taskIdentifier]": "hello-world",
        "filter[version]": "1,2",
        "filter[tag]": "x,y",
        "filter[createdAt][from]": "1767225600000",
        "filter[createdAt][to]": "1800000000000",
        "filter[createdAt][period]": "7d",
        "filter[isTest]": "false",
        "filter[schedule]": "sched_1",
        "filter[bulkAction]": "bulk_1",
        "filter[batch]": "batch_1",
        "filter[queue]": "task/hello-world,custom-q",
        "filter[machine]": "small-1x",
        "filter[region]": "eu",
        "page[size]": "10",
    }


def test_list_filters_by_status(client: TriggerClient, emulator: EmulatorServer, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("bad", duration=1, fail="boom"))
    failed = client.tasks.trigger("bad", {})
    client.tasks.trigger("hello-world", {})
    _finish(clock)
    assert [run.id for run in client.runs.list(status="FAILED")] == [failed.id]


@pytest.mark.usefixtures("no_list_lag")  # lists right after triggering; the lag is not the point
def test_project_runs_with_a_pat(
    client: TriggerClient, pat_client: TriggerClient, emulator: EmulatorServer
) -> None:
    handle = client.tasks.trigger("hello-world", {})
    page = pat_client.runs.list(project_ref=emulator.project_ref, env="dev")
    assert [run.id for run in page] == [handle.id]
    request = emulator.requests.all()[-1]
    assert request.path == f"/api/v1/projects/{emulator.project_ref}/runs"
    assert request.query["filter[env]"] == "dev"
    pat_client.runs.list(project_ref=emulator.project_ref, env="staging")
    assert emulator.requests.all()[-1].query["filter[env]"] == "stg"


def test_bulk_cancel_by_ids_then_retrieve_list_and_abort(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=100))
    ids = [client.tasks.trigger("slow", {"i": i}).id for i in range(3)]
    action = client.runs.bulk.cancel(run_ids=ids, name="cleanup")
    assert action.id.startswith("bulk_")
    assert emulator.requests.all()[-1].json == {"action": "cancel", "runIds": ids, "name": "cleanup"}
    retrieved = client.runs.bulk.retrieve(action.id)
    assert retrieved.id == action.id and retrieved.type == "CANCEL"
    assert [a.id for a in client.runs.bulk.list(limit=10)] == [action.id]
    client.runs.bulk.abort(action.id)
    assert emulator.requests.all()[-1].path == f"/api/v1/bulk-actions/{action.id}/abort"


def test_bulk_replay_by_filter_body(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", {})
    client.runs.bulk.replay(
        filter={
            "status": "COMPLETED",
            "task_identifier": ["hello-world"],
            "from_": datetime(2026, 1, 1, tzinfo=UTC),
            "queue": "task/hello-world",
            "is_test": False,
        },
        target_region="eu",
    )
    assert emulator.requests.all()[-1].json == {
        "action": "replay",
        "filter": {
            "status": ["COMPLETED"],
            "taskIdentifier": ["hello-world"],
            "from": 1767225600000,
            "queue": [{"type": "task", "name": "hello-world"}],
            "isTest": False,
        },
        "targetRegion": "eu",
    }
