"""Issue 19: waits cost the environment little however many there are (counts, never timings).

Live realtime connections stay at one per triggerer process (event loop) and credentials as waits and
DAG runs grow; polling shares one request budget and honours 429s, slowing down together.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_trigger.client import RateLimitError, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.emulator.faults import RateLimit
from airflow_provider_trigger.triggers.engine.budget import RequestBudget, request_budgets
from airflow_provider_trigger.triggers.engine.feeds import shared_feeds
from airflow_provider_trigger.triggers.engine.realtime import FEED_TAG, dag_run_tag
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger
from tests.task_runtime import connection_env

from .conftest import poll_requests, realtime_requests

pytestmark = pytest.mark.usefixtures("shared_clients")


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[TriggerClient]:
    """Sleeps for real (the package's fixture only records them): the batch waits below poll the
    server until processing ends, and must not burn the environment's REST budget doing so."""
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as client:
        yield client


async def event_of(trigger: Any) -> dict[str, Any]:
    return dict((await anext(trigger.run())).payload)


def revived(trigger: Any) -> Any:
    """As the triggerer does: serialize, JSON round trip, construct."""
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)(**json.loads(json.dumps(kwargs)))


def start_runs(client: TriggerClient, count: int, tags: list[str]) -> list[str]:
    items = [{"payload": i, "options": {"tags": tags}} for i in range(count)]
    return [str(r) for r in client.tasks.batch_trigger("rt", items, wait_until_processed=30).run_ids]


def live_peak(emulator: EmulatorServer) -> int:
    return max(emulator.state.realtime.stats()["peakLiveByEnv"].values(), default=0)


@pytest.mark.parametrize(("dag_runs", "per_dag_run"), [(1, 4), (8, 5), (30, 4)])
async def test_one_live_connection_per_process_however_many_waits_and_dag_runs(
    emulator: EmulatorServer, client: TriggerClient, dag_runs: int, per_dag_run: int
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.8, output=lambda p: p))
    runs = start_runs(client, dag_runs * per_dag_run, [FEED_TAG])  # every DAG run's runs: one tag
    triggers = [revived(TriggerRunTrigger(r, poll_interval=0.05, feed_tag=FEED_TAG)) for r in runs]
    batch_runs = start_runs(client, 3, [FEED_TAG])  # a batch wait joins the same feed
    triggers.append(revived(TriggerBatchTrigger(batch_runs, poll_interval=0.05, feed_tag=FEED_TAG)))

    events = await asyncio.gather(*(event_of(t) for t in triggers))

    assert [e["status"] for e in events] == ["success"] * len(triggers)
    assert live_peak(emulator) <= 1  # 0 when the first snapshot already held every run finished
    assert {r.path for r in realtime_requests(emulator)} == {"/realtime/v1/runs"}
    assert {(r.query["tags"], r.query["createdAt"]) for r in realtime_requests(emulator)} == {
        (FEED_TAG, "60m")
    }
    assert poll_requests(emulator) == []


async def test_older_triggers_keep_working_without_a_second_connection(
    emulator: EmulatorServer, client: TriggerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Triggers serialized before this version carry their DAG run's tag; they finish by polling
    while the shared feed holds the process's one slot."""
    emulator.state.set_task(TaskBehaviour("rt", duration=2.0))
    new = start_runs(client, 6, [FEED_TAG])
    legacy = {
        dag_run_tag("dag", f"manual__{i}"): start_runs(client, 2, [dag_run_tag("dag", f"manual__{i}")])
        for i in range(3)
    }
    waits = [
        asyncio.create_task(event_of(TriggerRunTrigger(r, poll_interval=0.05, feed_tag=FEED_TAG)))
        for r in new
    ]
    for _ in range(500):
        if shared_feeds.feeds() and shared_feeds.feeds()[0].generation:
            break
        await asyncio.sleep(0.02)
    assert not any(w.done() for w in waits)
    waits += [
        asyncio.create_task(event_of(TriggerRunTrigger(r, poll_interval=0.05, feed_tag=tag)))
        for tag, run_ids in legacy.items()
        for r in run_ids
    ]

    events = await asyncio.gather(*waits)

    assert [e["status"] for e in events] == ["success"] * 12
    assert live_peak(emulator) == 1
    assert {r.query["tags"] for r in realtime_requests(emulator)} == {FEED_TAG}
    polled = {r.path.rsplit("/", 1)[-1] for r in poll_requests(emulator)}
    assert polled == {r for run_ids in legacy.values() for r in run_ids}
    assert capsys.readouterr().out.count("polling instead") == 6


async def test_the_shared_feed_takes_the_slot_from_an_older_feed(
    emulator: EmulatorServer, client: TriggerClient
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=1.5))
    tag = dag_run_tag("dag", "manual__old")
    [old] = start_runs(client, 1, [tag])
    [new] = start_runs(client, 1, [FEED_TAG])
    waiting_old = asyncio.create_task(event_of(TriggerRunTrigger(old, poll_interval=0.05, feed_tag=tag)))
    while not shared_feeds.feeds():
        await asyncio.sleep(0.02)
    [older_feed] = shared_feeds.feeds()

    events = [
        await event_of(TriggerRunTrigger(new, poll_interval=0.05, feed_tag=FEED_TAG)),
        await waiting_old,
    ]

    assert [e["status"] for e in events] == ["success", "success"]
    assert older_feed.error is not None and "took its slot" in str(older_feed.error)
    assert {r.path.rsplit("/", 1)[-1] for r in poll_requests(emulator)} == {old}


async def test_two_credentials_get_one_connection_each(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=2.0))
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIGGER_PROD",
        connection_env(emulator).replace(emulator.secret_key, emulator.keys["prod"]),
    )
    triggers = []
    for conn, key in (("trigger_default", emulator.secret_key), ("trigger_prod", emulator.keys["prod"])):
        with TriggerClient(api_key=key, base_url=emulator.base_url) as c:
            runs = start_runs(c, 5, [FEED_TAG])
        triggers += [TriggerRunTrigger(r, trigger_conn_id=conn, feed_tag=FEED_TAG) for r in runs]

    events = await asyncio.gather(*(event_of(t) for t in triggers))

    assert [e["status"] for e in events] == ["success"] * 10
    assert sorted(emulator.state.realtime.stats()["peakLiveByEnv"].values()) == [1, 1]


async def test_polling_under_a_429_storm_slows_down_together_and_no_wait_fails(
    emulator: EmulatorServer,
    client: TriggerClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The environment's limit is far below what 30 waits polling every 0.05 s want (and below the
    budget they were given): every 429 pauses all of them until its reset."""
    emulator.state.set_task(TaskBehaviour("rt", duration=1.5))
    runs = start_runs(client, 30, [])
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, poll_budget=1000))
    emulator.state.config.rate_limit = RateLimit(burst=10, refill=10, interval=1.0)
    emulator.requests.clear()
    triggers = [revived(TriggerRunTrigger(r, poll_interval=0.05, wait_mode="poll")) for r in runs]

    events = await asyncio.gather(*(event_of(t) for t in triggers))

    assert [e["status"] for e in events] == ["success"] * 30
    polls = poll_requests(emulator)
    limited = [r for r in polls if r.status == 429]
    assert limited, "the storm never happened"
    # After a 429 a wait sends nothing before the reset the server gave: between a 429 and its reset
    # the server sees at most the requests already in flight, one per wait (polling on their own,
    # 30 waits every 0.05 s would send ~600 in that second).
    for answer in limited:
        reset = answer.extra["reset_ms"] / 1000
        assert sum(1 for r in polls if answer.time < r.time < reset) <= len(runs)
    out = capsys.readouterr().out
    assert "API unavailable" not in out  # a 429 is a rate signal, not an outage: no incident


async def test_budget_slots_are_handed_out_in_order_and_a_429_moves_them_all() -> None:
    budget = RequestBudget(rate=2.0, burst=3)
    slots = [budget.reserve(now=100.0) for _ in range(6)]
    assert slots == [99.0, 99.5, 100.0, 100.5, 101.0, 101.5]  # 3 at once (burst), then one per 0.5 s

    class ResetIn5s(RateLimitError):
        def __init__(self) -> None:
            pass

        @property
        def seconds_until_reset(self) -> float:
            return 5.0

    assert budget.rate_limited(ResetIn5s()) and budget.throttled == 1
    assert not budget.rate_limited(ValueError("not a 429"))
    reset = budget.paused_until
    assert [budget.reserve(now=reset - 5) for _ in range(2)] == [reset, reset + 0.5]  # all wait for it


async def test_many_waits_over_a_small_budget_stretch_their_polls_and_say_so_once(
    emulator: EmulatorServer,
    client: TriggerClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=1.0))
    runs = start_runs(client, 20, [])
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, poll_budget=10))
    emulator.requests.clear()

    events = await asyncio.gather(
        *(event_of(revived(TriggerRunTrigger(r, poll_interval=0.05, wait_mode="poll"))) for r in runs)
    )

    assert [e["status"] for e in events] == ["success"] * 20
    out = capsys.readouterr().out
    assert out.count("polls are spaced out") == 1
    budget = request_budgets.get(next(iter(request_budgets._by_loop[asyncio.get_running_loop()])))
    assert budget.rate == 10 and budget.taken == len(poll_requests(emulator))


def test_the_budget_comes_from_airflow_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_trigger.triggers.engine.budget import DEFAULT_RATE, configured_rate

    assert configured_rate() == DEFAULT_RATE
    monkeypatch.setenv("AIRFLOW__TRIGGER__POLL_BUDGET", "7.5")
    assert configured_rate() == 7.5
    monkeypatch.setenv("AIRFLOW__TRIGGER__POLL_BUDGET", "0")
    with pytest.raises(ValueError, match=r"\[trigger\] poll_budget must be > 0"):
        configured_rate()


def test_a_bad_poll_budget_extra_names_the_field(emulator: EmulatorServer) -> None:
    from airflow_provider_trigger.hooks._connection import TriggerConnectionError, parse_connection

    with pytest.raises(TriggerConnectionError, match='extra field "poll_budget" is invalid'):
        parse_connection("c", password=emulator.secret_key, host=emulator.base_url, extra={"poll_budget": -1})
    settings = parse_connection(
        "c", password=emulator.secret_key, host=emulator.base_url, extra={"poll_budget": "4"}
    )
    assert settings.poll_budget == 4.0


def test_backoff_after_thousands_of_failures_does_not_overflow() -> None:
    """Found by benchmarks/scale_bench.py: an IncidentGate shared by 3,333 waits counted every failed
    read of a 429 storm, and 2 ** 1024 raised OverflowError in 663 of 10,000 waits."""
    from airflow_provider_trigger.client import InternalServerError
    from airflow_provider_trigger.triggers.engine.incidents import MAX_DELAY, backoff

    error = InternalServerError.__new__(InternalServerError)
    assert backoff(5000, error, cap=60.0) == MAX_DELAY
