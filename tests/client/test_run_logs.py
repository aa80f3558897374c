"""``client.runs.logs``: typed log lines read from the run events route, over real HTTP (sync and
async), in the shape upstream returns (nanosecond ``startTime`` strings, spans at level TRACE, the
failure as an ``exception`` span event on the attempt and on the run)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from airflow_provider_trigger.client import AsyncTriggerClient, NotFoundError, RunLogLine, TriggerClient
from airflow_provider_trigger.client.models.logs import RunEvent, log_lines
from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

LINES = [("info", "Loading 3 files"), ("warn", "file 2 is empty"), ("error", "Could not parse row 17")]


@pytest.fixture
def clock(emulator: EmulatorServer) -> Iterator[ManualClock]:
    clock = ManualClock()
    emulator.state.clock = clock
    yield clock


def test_lines_appear_as_the_task_writes_them_each_with_a_stable_key(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=4, queue_time=0, logs=LINES))
    run_id = client.tasks.trigger("etl", {}).id
    assert client.runs.logs(run_id) == []  # queued: no line yet
    clock.advance(1.5)  # the lines are written at 1 s, 2 s and 3 s of the run
    first = client.runs.logs(run_id)
    assert [(line.level, line.message, line.attempt) for line in first] == [("INFO", "Loading 3 files", 1)]
    clock.advance(10)
    lines = client.runs.logs(run_id)
    assert [(line.level, line.message) for line in lines] == [
        ("INFO", "Loading 3 files"),
        ("WARN", "file 2 is empty"),
        ("ERROR", "Could not parse row 17"),
    ]
    assert lines[0].key == first[0].key and len({line.key for line in lines}) == 3
    assert all(line.run_id == run_id and line.stack_trace is None for line in lines)
    assert lines[0].time < lines[1].time < lines[2].time
    assert lines[0].time.tzinfo is UTC


def test_a_failed_run_has_its_error_with_the_stack_trace_once(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    stack = "Error: Row 17 is not valid JSON\n    at parse (file:///app/src/trigger/etl.ts:4:9)"
    emulator.state.set_task(
        TaskBehaviour("etl", duration=1, fail="Row 17 is not valid JSON", stack_trace=stack, logs=LINES)
    )
    run_id = client.tasks.trigger("etl", {}).id
    clock.advance(60)
    events = client.runs.events(run_id).events
    # the exception is on the run's span and on the attempt's span, as upstream records it
    assert sum(1 for e in events for ev in e.events if ev["name"] == "exception") == 2
    *written, error = client.runs.logs(run_id)
    assert [line.message for line in written] == [m for _, m in LINES]
    assert error.level == "ERROR" and error.message == "Error: Row 17 is not valid JSON"
    assert error.stack_trace == stack and error.attempt == 1 and error.key.startswith("error/")
    assert error.format().endswith(
        "ERROR [attempt 1] Error: Row 17 is not valid JSON\n" + stack.splitlines()[1]
    )


def test_the_events_route_has_the_upstream_shape(client: TriggerClient, emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=0.01, logs=LINES))
    run_id = client.tasks.trigger("etl", {}).id
    headers = {"Authorization": f"Bearer {emulator.secret_key}"}
    response = httpx.get(f"{emulator.base_url}/api/v1/runs/{run_id}/events", headers=headers)
    row = response.json()["events"][0]
    assert set(row) == {
        "spanId", "parentId", "runId", "message", "style", "events", "startTime", "duration",
        "isError", "isPartial", "isCancelled", "kind", "attemptNumber", "level",
    }  # fmt: skip
    assert isinstance(row["startTime"], str) and len(row["startTime"]) == 19  # epoch nanoseconds
    assert row["kind"] == "UNSPECIFIED" and row["level"] == "TRACE" and row["parentId"] is None


def test_an_unknown_run_is_retried_then_not_found(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    with pytest.raises(NotFoundError):
        client.runs.logs("run_doesnotexist0000000")
    assert len(emulator.requests.filter("GET", "/api/v1/runs/run_doesnotexist0000000/events")) > 1
    response = emulator.requests.filter("GET", "/api/v1/runs/run_doesnotexist0000000/events")[0]
    assert response.status == 404


async def test_async_logs(async_client: AsyncTriggerClient, emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=0.01, queue_time=0, logs=LINES))
    run_id = (await async_client.tasks.trigger("etl", {})).id
    await asyncio.sleep(0.2)
    lines = await async_client.runs.logs(run_id)
    assert [line.message for line in lines] == [m for _, m in LINES]
    assert all(isinstance(line, RunLogLine) for line in lines)


def test_retries_keep_each_attempts_error_and_drop_the_run_spans_copy() -> None:
    """Upstream rows of a run that failed twice (``attempt_failed`` on the run span, ``exception`` on
    each attempt span): each attempt's error once, in time order."""
    ns = lambda s: str(int(datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC).timestamp() * 1e9))  # noqa: E731
    exc = {"type": "Error", "message": "boom", "stacktrace": "Error: boom\n    at run (x.ts:1:1)"}
    rows = [
        {"spanId": "root", "startTime": ns(0), "level": "TRACE", "events": [
            {"name": "attempt_failed", "time": "2026-01-01T00:00:02.000Z",
             "properties": {"exception": exc, "attemptNumber": 1, "runId": "run_x"}},
            {"name": "exception", "time": "2026-01-01T00:00:05.000Z", "properties": {"exception": exc}},
        ]},
        {"spanId": "a1", "startTime": ns(1), "level": "TRACE", "attemptNumber": 1, "events": [
            {"name": "exception", "time": "2026-01-01T00:00:02.000Z", "properties": {"exception": exc}}]},
        {"spanId": "l1", "startTime": ns(1), "level": "LOG", "message": "try 1", "attemptNumber": 1},
        {"spanId": "a2", "startTime": ns(3), "level": "TRACE", "attemptNumber": 2, "events": [
            {"name": "exception", "time": "2026-01-01T00:00:05.000Z", "properties": {"exception": exc}}]},
        {"spanId": "l2", "startTime": ns(4), "level": "LOG", "message": "try 2", "attemptNumber": 2},
    ]  # fmt: skip
    lines = log_lines("run_x", [RunEvent.model_validate(row) for row in rows])
    assert [(line.message, line.attempt) for line in lines] == [
        ("try 1", 1),
        ("Error: boom", 1),
        ("try 2", 2),
        ("Error: boom", 2),
    ]
    assert len({line.key for line in lines}) == 4


def test_the_control_api_deploys_a_task_that_logs(client: TriggerClient, emulator: EmulatorServer) -> None:
    body = {"duration": 0.01, "queueTime": 0, "logs": [["warn", "low disk"]], "stackTrace": "Error: x"}
    assert httpx.post(f"{emulator.base_url}/_emulator/tasks/etl", json=body).status_code == 200
    bad = httpx.post(f"{emulator.base_url}/_emulator/tasks/etl", json={"logs": [["shout", "hi"]]})
    assert bad.status_code == 400 and "level one of" in bad.text
    run_id = client.tasks.trigger("etl", {}).id
    time.sleep(0.2)
    assert [(line.level, line.message) for line in client.runs.logs(run_id)] == [("WARN", "low disk")]
