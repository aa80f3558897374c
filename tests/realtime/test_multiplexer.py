"""Shared feeds in the triggerer: many deferred waits served by one realtime feed, run on one loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.triggers.engine.feeds import MAX_FEEDS, shared_feeds
from airflow_provider_trigger.triggers.engine.realtime import dag_run_tag
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger

from .conftest import poll_requests, realtime_requests

pytestmark = pytest.mark.usefixtures("shared_clients")
TAG = dag_run_tag("dag", "manual__1")


async def event_of(trigger: Any) -> dict[str, Any]:
    return dict((await anext(trigger.run())).payload)


def start_runs(client: TriggerClient, count: int, tags: list[str] | None = None) -> list[str]:
    return [str(client.tasks.trigger("rt", {"i": i}, tags=tags).id) for i in range(count)]


async def test_many_triggers_share_one_tag_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.6, output=lambda p: p["i"]))
    run_ids = start_runs(client, 25, tags=[TAG])
    triggers = [TriggerRunTrigger(r, poll_interval=0.05, feed_tag=TAG) for r in run_ids]

    events = await asyncio.gather(*(event_of(t) for t in triggers))

    assert [e["status"] for e in events] == ["success"] * 25
    assert [e["output"] for e in events] == list(range(25))
    feed_requests = realtime_requests(emulator)
    assert {r.path for r in feed_requests} == {"/realtime/v1/runs"}  # the tag feed only
    assert {r.query["tags"] for r in feed_requests} == {TAG}
    assert len(feed_requests) < len(triggers)  # one feed, not one request per wait
    assert poll_requests(emulator) == []
    assert shared_feeds.feeds() == []  # the last wait out stopped the feed


async def test_shared_feed_in_electric_mode_with_partial_updates_and_a_409(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.config.realtime_electric_mode = True
    emulator.state.config.realtime_partial_updates = True
    emulator.state.set_task(TaskBehaviour("rt", duration=0.6, output=lambda p: p["i"]))
    run_ids = start_runs(client, 6, tags=[TAG])
    emulator.faults.inject("GET", "/realtime/*", kind="must_refetch", skip=3)

    events = await asyncio.gather(*(event_of(TriggerRunTrigger(r, feed_tag=TAG)) for r in run_ids))

    assert [e["output"] for e in events] == list(range(6))
    assert 409 in {r.status for r in realtime_requests(emulator)}
    assert poll_requests(emulator) == []


async def test_a_trigger_cancelled_mid_wait_unregisters(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.8))
    stays, leaves = start_runs(client, 2, tags=[TAG])
    staying = asyncio.create_task(event_of(TriggerRunTrigger(stays, feed_tag=TAG)))
    leaving = asyncio.create_task(event_of(TriggerRunTrigger(leaves, feed_tag=TAG)))
    while not shared_feeds.feeds() or shared_feeds.feeds()[0].generation == 0:
        await asyncio.sleep(0.02)
    [feed] = shared_feeds.feeds()

    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert leaves not in feed._by_run and stays in feed._by_run

    event = await staying
    assert event["status"] == "success" and event["run_id"] == stays
    assert shared_feeds.feeds() == []


async def test_feed_failure_makes_every_waiter_poll_and_finish(
    emulator: EmulatorServer, client: TriggerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5))
    run_ids = start_runs(client, 5, tags=[TAG])
    emulator.state.config.realtime_live_limit = 0  # every live request: 429 (slots exhausted)
    triggers = [TriggerRunTrigger(r, poll_interval=0.05, feed_tag=TAG) for r in run_ids]

    events = await asyncio.gather(*(event_of(t) for t in triggers))

    assert [e["status"] for e in events] == ["success"] * 5
    assert {r.status for r in realtime_requests(emulator) if r.query.get("live")} == {429}
    assert {r.path.rsplit("/", 1)[-1] for r in poll_requests(emulator)} == set(run_ids)
    fallbacks = [line for line in capsys.readouterr().out.splitlines() if "polling instead" in line]
    assert len(fallbacks) == 5  # once per wait
    assert all("RateLimitError: 429" in line for line in fallbacks)


async def test_a_run_without_the_tag_falls_back_to_its_own_feed(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.3))
    [tagged] = start_runs(client, 1, tags=[TAG])
    [untagged] = start_runs(client, 1)  # e.g. re-attached to a run started before tagging

    events = await asyncio.gather(
        event_of(TriggerRunTrigger(tagged, feed_tag=TAG)),
        event_of(TriggerRunTrigger(untagged, feed_tag=TAG)),
    )

    assert [e["status"] for e in events] == ["success", "success"]
    assert any(r.path == f"/realtime/v1/runs/{untagged}" for r in realtime_requests(emulator))
    assert poll_requests(emulator) == []


async def test_batch_trigger_follows_the_batch_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.3))
    emulator.state.set_task(TaskBehaviour("bad", duration=0.3, fail="nope"))
    batch = client.tasks.batch_trigger("rt", [{"payload": i} for i in range(4)], wait_until_processed=30)

    event = await event_of(TriggerBatchTrigger(list(batch.run_ids), batch_id=batch.id))

    assert event["status"] == "success"
    assert set(event["runs"].values()) == {"COMPLETED"}
    assert {r.path for r in realtime_requests(emulator)} == {f"/realtime/v1/batches/{batch.id}"}
    assert poll_requests(emulator) == []


async def test_poll_mode_never_opens_a_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2))
    [run_id] = start_runs(client, 1, tags=[TAG])

    event = await event_of(TriggerRunTrigger(run_id, poll_interval=0.05, wait_mode="poll", feed_tag=TAG))

    assert event["status"] == "success"
    assert realtime_requests(emulator) == []
    assert poll_requests(emulator)


async def test_deadline_while_following_a_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=30))
    [run_id] = start_runs(client, 1)
    event = await event_of(TriggerRunTrigger(run_id, end_time=time.time() + 0.5))

    assert event["status"] == "timeout"
    assert event["run_status"] in {"QUEUED", "EXECUTING"}
    assert shared_feeds.feeds() == []


async def test_waits_beyond_the_feed_limit_poll(
    emulator: EmulatorServer, client: TriggerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.6))
    run_ids = start_runs(client, MAX_FEEDS + 2)  # no tag: one single-run feed per wait

    events = await asyncio.gather(*(event_of(TriggerRunTrigger(r, poll_interval=0.05)) for r in run_ids))

    assert [e["status"] for e in events] == ["success"] * len(run_ids)
    followed = {r.path.rsplit("/", 1)[-1] for r in realtime_requests(emulator)}
    polled = {r.path.rsplit("/", 1)[-1] for r in poll_requests(emulator)}
    assert len(followed) == MAX_FEEDS and len(polled) == 2 and not followed & polled
    out = capsys.readouterr().out
    assert out.count("realtime feeds already open") == 2
