"""The realtime feed iterators over real HTTP against the emulator (native and Electric modes)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_trigger.client import (
    AsyncTriggerClient,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RealtimeBackoff,
    TriggerClient,
    TriggerClientError,
)
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour

from .conftest import realtime_requests


def trigger(client: TriggerClient, task: str = "rt", payload: Any = None, **options: Any) -> str:
    return str(client.tasks.trigger(task, payload, **options).id)


def test_single_run_native_yields_each_change_and_ends_when_finished(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output=lambda p: {"doubled": p["n"] * 2}))
    run_id = trigger(client, payload={"n": 21}, tags=["a b", 'q"x'])

    runs = list(client.runs.subscribe_to_run(run_id))

    assert [r.status for r in runs][-1] == "COMPLETED"
    assert {r.status for r in runs} <= {"QUEUED", "EXECUTING", "COMPLETED"}
    final = runs[-1]
    assert final.id == run_id
    assert final.output == {"doubled": 42}
    assert final.tags == ["a b", 'q"x']
    assert final.finished_at is not None and final.finished_at.tzinfo is not None
    assert final.started_at is not None and final.started_at <= final.finished_at
    assert final.is_success and final.is_terminal
    assert final.payload is None  # skipped by default (payload, metadata)

    requests = realtime_requests(emulator)
    first, *rest = requests
    assert first.query["offset"] == "-1" and "live" not in first.query and "handle" not in first.query
    assert first.query["skipColumns"] == "payload,metadata"
    assert len({r.query["handle"] for r in rest}) == 1
    assert all(r.query["live"] == "true" and "cursor" in r.query for r in rest)
    assert all(r.headers.get("x-trigger-electric-version") == "1.0.0-beta.1" for r in requests)
    assert all(r.headers.get("x-trigger-api-version") == "2025-07-16" for r in requests)


def test_electric_mode_partial_updates_are_merged(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.config.realtime_electric_mode = True
    emulator.state.config.realtime_partial_updates = True
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output={"ok": True}))
    run_id = trigger(client, tags=["t1"])

    runs = list(client.runs.subscribe_to_run(run_id, skip_columns=()))

    final = runs[-1]
    assert final.status == "COMPLETED"
    assert final.output == {"ok": True}
    assert final.task_identifier == "rt" and final.tags == ["t1"]  # kept from the insert
    assert final.created_at is not None and final.finished_at is not None
    requests = realtime_requests(emulator)
    # Electric: offset=-1 carries no up-to-date, so a non-live catch-up request follows
    assert requests[0].query["offset"] == "-1"
    assert requests[1].query["offset"] != "-1" and "live" not in requests[1].query
    assert requests[2].query["live"] == "true"


def test_must_refetch_restarts_the_feed_without_repeating_states(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.config.realtime_electric_mode = True
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5))
    run_id = trigger(client)
    emulator.faults.inject("GET", "/realtime/*", kind="must_refetch", skip=2)

    feed = client.runs.subscribe_to_run(run_id)
    runs = list(feed)

    assert runs[-1].status == "COMPLETED"
    states = [(r.status, r.updated_at) for r in runs]
    assert len(states) == len(set(states))  # re-sent rows after the 409 are not emitted twice
    requests = realtime_requests(emulator)
    conflict = next(i for i, r in enumerate(requests) if r.status == 409)
    after = requests[conflict + 1]
    assert after.query["offset"] == "-1"
    assert after.query["expired_handle"] == requests[conflict].query["handle"]
    assert after.query["handle"] == requests[conflict].query["handle"] + "-next"


def test_run_already_finished_at_subscribe_time(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.01, queue_time=0.0))
    run_id = trigger(client)
    while emulator.state.run_status(run_id) != "COMPLETED":
        time.sleep(0.02)

    runs = list(client.runs.subscribe_to_run(run_id))

    assert [r.status for r in runs] == ["COMPLETED"]
    assert len(realtime_requests(emulator)) == 1  # native: the first answer already ends the wait


def test_failed_run_maps_status_and_error(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.05, fail="disk full"))
    run_id = trigger(client)

    final = list(client.runs.subscribe_to_run(run_id))[-1]

    assert final.status == "FAILED" and final.is_failed
    assert final.error is not None and final.error.message == "disk full"


def test_429_and_5xx_and_network_errors_are_retried_with_the_client_sleep(
    emulator: EmulatorServer, client: TriggerClient, sleeps: list[float]
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.3))
    run_id = trigger(client)
    emulator.faults.inject("GET", "/realtime/*", kind=429, count=2)
    emulator.faults.inject("GET", "/realtime/*", kind=503, count=1)
    emulator.faults.inject("GET", "/realtime/*", kind="drop_before", count=1)

    runs = list(client.runs.subscribe_to_run(run_id))

    assert runs[-1].status == "COMPLETED"
    fired = [r.fault or r.status for r in realtime_requests(emulator)[:5]]
    assert fired == ["429", "429", "503", "drop_before", 200]
    # 100 ms x 1.3 per consecutive failure, slept with the client's (injected) sleep
    assert sleeps == pytest.approx([0.1, 0.13, 0.169, 0.2197])


def test_repeated_errors_end_the_feed_when_bounded(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=5))
    run_id = trigger(client)
    emulator.state.config.realtime_live_limit = 0  # every live request: 429

    feed = client.runs.subscribe_to_run(run_id, backoff=RealtimeBackoff(max_errors=3))
    with pytest.raises(RateLimitError, match="Too many concurrent requests"):
        list(feed)
    emulator.faults.inject("GET", "/realtime/*", kind=500, count=None)
    with pytest.raises(InternalServerError):
        list(client.runs.subscribe_to_run(run_id, backoff=RealtimeBackoff(max_errors=2)))


def test_other_4xx_raise_typed_errors_and_bad_input_is_refused_before_sending(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    with pytest.raises(NotFoundError):
        list(client.runs.subscribe_to_run("run_doesnotexist"))
    assert len(realtime_requests(emulator)) == 1  # not retried
    with pytest.raises(TriggerClientError, match="run_id"):
        client.runs.subscribe_to_run("nope")
    with pytest.raises(TriggerClientError, match="invalid tag"):
        client.runs.subscribe_to_runs_with_tag(["ok", "bad,tag"])
    with pytest.raises(TriggerClientError, match="created_at"):
        client.runs.subscribe_to_runs_with_tag("ok", created_at="yesterday")
    with pytest.raises(TriggerClientError, match="reserved"):
        client.runs.subscribe_to_run("run_x", skip_columns=["status"])
    assert len(realtime_requests(emulator)) == 1


def test_a_personal_access_token_is_refused_clearly(emulator: EmulatorServer) -> None:
    with (
        TriggerClient(api_key=emulator.pat, base_url=emulator.base_url) as pat_client,
        pytest.raises(TriggerClientError, match="personal access token") as excinfo,
    ):
        pat_client.runs.subscribe_to_run("run_abc")
    assert emulator.pat not in str(excinfo.value)
    assert realtime_requests(emulator) == []


def test_tag_feed_sees_every_run_with_all_tags(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2))
    wanted = {trigger(client, tags=["team", "nightly"]) for _ in range(3)}
    trigger(client, tags=["team"])  # lacks "nightly"

    finished: set[str] = set()
    seen: set[str] = set()
    for run in client.runs.subscribe_to_runs_with_tag(["team", "nightly"], created_at="1h"):
        seen.add(run.id)
        if run.is_terminal:
            finished.add(run.id)
        if finished == wanted:
            break

    assert seen == wanted
    first = realtime_requests(emulator)[0]
    assert first.query["tags"] == "team,nightly" and first.query["createdAt"] == "1h"


async def test_async_batch_feed(emulator: EmulatorServer, aclient: AsyncTriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2, output=lambda p: p))
    batch = await aclient.tasks.batch_trigger(
        "rt", [{"payload": i} for i in range(3)], wait_until_processed=30
    )
    expected = set(batch.run_ids)

    outputs: dict[str, Any] = {}
    async for run in aclient.runs.subscribe_to_batch(batch.id):
        if run.is_terminal:
            outputs[run.id] = run.output
        if set(outputs) == expected:
            break

    assert sorted(outputs.values()) == [0, 1, 2]


async def test_async_single_run_feed_ends(emulator: EmulatorServer, aclient: AsyncTriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2))
    run_id = (await aclient.tasks.trigger("rt", None)).id

    statuses = [run.status async for run in aclient.runs.subscribe_to_run(run_id)]

    assert statuses[-1] == "COMPLETED"
