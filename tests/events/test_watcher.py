"""``TriggerRunEventTrigger`` run by Airflow's own TriggerRunner against the emulator.

The cursor goes to the real asset state store: Airflow's ``AssetStateStoreAccessors`` → the request
handlers the triggerer's supervisor uses → the in-process Execution API → the test metadata DB.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.triggers import TriggerRunEventTrigger
from tests.airflow_compat import AIRFLOW_VERSION_TEXT, needs_airflow_3_3, only_below_3_3
from tests.events.conftest import InProcessSupervisor, Triggerer, make_active_asset, wait_until

FAST = {"poll_interval": 0.05, "max_backoff": 0.2}


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as c:
        yield c


@pytest.fixture
def asset(supervisor: InProcessSupervisor) -> dict[str, str]:
    """A fresh active asset (name → uri), as the triggerer's workload names the watched assets."""
    name = f"trigger_dev_runs_{uuid.uuid4().hex[:8]}"
    make_active_asset(name, name)
    return {name: name}


@pytest.fixture
async def triggerer() -> AsyncIterator[Triggerer]:
    triggerer = Triggerer()
    yield triggerer
    for trigger_id in list(triggerer.runner.triggers):
        await triggerer.stop(trigger_id)
    await close_async_clients()


def finish(client: Any, emulator: EmulatorServer, task: str, **options: Any) -> str:
    """Trigger a run and let it end (the emulator's runs take a fraction of a second)."""
    run_id = str(client.tasks.trigger(task, {"from": task}, **options).id)
    return run_id


def list_polls(emulator: EmulatorServer) -> int:
    return len(
        [r for r in emulator.requests if r.method == "GET" and r.path == "/api/v1/runs" and r.status == 200]
    )


async def more_polls(emulator: EmulatorServer, count: int = 5) -> None:
    """Let the watcher look at the run list ``count`` more times (to see it stays quiet)."""
    target = list_polls(emulator) + count
    await wait_until(lambda: list_polls(emulator) >= target, f"{count} more polls")


async def wait_ended(emulator: EmulatorServer, *run_ids: str) -> None:
    await wait_until(
        lambda: all(emulator.state.run_status(r) in {"COMPLETED", "FAILED"} for r in run_ids), "runs to end"
    )


# The run that ended "before" must be history when the watcher starts; with the list's replica lag it
# can still look unfinished then (and fire later). That race is not what this test is about.
@pytest.mark.usefixtures("no_list_lag")
@needs_airflow_3_3("The watcher cursor in the asset state store")
async def test_fires_once_per_new_run_and_not_again_after_a_restart(
    emulator: EmulatorServer,
    client: Any,
    asset: dict[str, str],
    triggerer: Triggerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_trigger.triggers import events

    monkeypatch.setattr(events, "EVENT_PERSIST_DELAY", 0.3)  # Airflow persists events within ~1 s
    emulator.state.set_task(TaskBehaviour("ingest", output=lambda p: {"rows": 7}))
    emulator.state.set_task(TaskBehaviour("ingest-bad", fail="boom"))
    before = finish(client, emulator, "ingest")
    await wait_ended(emulator, before)
    watcher = TriggerRunEventTrigger(task_identifier="ingest", include_output=True, **FAST)

    await triggerer.start(1, watcher, asset)
    await more_polls(emulator, 2)  # started: the run that ended before is history
    first, second = finish(client, emulator, "ingest"), finish(client, emulator, "ingest")
    other = finish(client, emulator, "something-else")
    await wait_ended(emulator, first, second, other)
    await wait_until(lambda: len(triggerer.payloads) >= 2, "two events")
    await more_polls(emulator)

    payloads = triggerer.payloads
    assert sorted(p["run_id"] for p in payloads) == sorted([first, second])
    assert payloads[0] == {
        "run_id": payloads[0]["run_id"],
        "task_identifier": "ingest",
        "status": "COMPLETED",
        "finished_at": payloads[0]["finished_at"],
        "created_at": payloads[0]["created_at"],
        "tags": [],
        "run_url": f"{emulator.base_url}/runs/{payloads[0]['run_id']}",
        "output": {"rows": 7},
    }
    assert payloads[0]["finished_at"] <= payloads[1]["finished_at"]  # oldest first
    json.dumps(payloads)  # small plain JSON, as the asset event's extra needs

    # A triggerer restart, once the events were persisted: the row's kwargs build a fresh instance,
    # which reads the stored cursor.
    await asyncio.sleep(0.4)
    await more_polls(emulator, 2)
    await triggerer.stop(1)
    restarted = Triggerer()
    await restarted.start(
        1, TriggerRunEventTrigger(task_identifier="ingest", include_output=True, **FAST), asset
    )
    try:
        third = finish(client, emulator, "ingest")
        await wait_ended(emulator, third)
        await wait_until(lambda: len(restarted.payloads) >= 1, "the event after the restart")
        await more_polls(emulator)
        assert [p["run_id"] for p in restarted.payloads] == [third]
        await asyncio.sleep(0.4)  # persisted: the next save stores it
        await more_polls(emulator, 2)
    finally:
        await restarted.stop(1)

    # The cursor is in Airflow's asset state store, under the watcher's key.
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    [(name, _)] = asset.items()
    stored = await AssetStateStoreAccessors(inlets=[Asset(name=name, uri=name)]).aget(watcher.cursor_key)
    assert set(stored["seen"]) >= {first, second, third}


async def test_tags_and_statuses_filter_runs(
    emulator: EmulatorServer, client: Any, asset: dict[str, str], triggerer: Triggerer
) -> None:
    emulator.state.set_task(TaskBehaviour("flaky", output=lambda p: p if p.get("ok") else 1 / 0))
    watcher = TriggerRunEventTrigger(tags="nightly", statuses=["FAILED", "CRASHED"], **FAST)
    await triggerer.start(2, watcher, asset)
    await more_polls(emulator, 2)

    failed_tagged = str(client.tasks.trigger("flaky", {"ok": False}, tags=["nightly"]).id)
    ok_tagged = str(client.tasks.trigger("flaky", {"ok": True}, tags=["nightly"]).id)
    failed_untagged = str(client.tasks.trigger("flaky", {"ok": False}, tags=["adhoc"]).id)
    await wait_ended(emulator, failed_tagged, ok_tagged, failed_untagged)
    await wait_until(lambda: len(triggerer.payloads) >= 1, "the failed run's event")
    await more_polls(emulator)

    assert [(p["run_id"], p["status"], p["tags"]) for p in triggerer.payloads] == [
        (failed_tagged, "FAILED", ["nightly"])
    ]
    assert "output" not in triggerer.payloads[0]  # include_output is off by default


async def test_survives_api_errors_without_error_events(
    emulator: EmulatorServer, client: Any, asset: dict[str, str], triggerer: Triggerer
) -> None:
    await triggerer.start(3, TriggerRunEventTrigger(task_identifier="ingest", **FAST), asset)
    await more_polls(emulator, 1)
    emulator.faults.inject("GET", "/api/v1/runs", kind=503, count=12)  # beyond the client's own retries
    emulator.faults.inject("GET", "/api/v1/runs", kind="drop_before", count=3)
    run_id = finish(client, emulator, "ingest")
    await wait_ended(emulator, run_id)

    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event once the API answers again")
    await more_polls(emulator)

    assert [p["run_id"] for p in triggerer.payloads] == [run_id]
    assert not triggerer.instance(3).done()  # still watching: errors never end run()
    faults = [r for r in emulator.requests if r.path == "/api/v1/runs" and r.fault]
    assert len(faults) == 15


async def test_since_announces_runs_that_ended_before_the_first_start(
    emulator: EmulatorServer, client: Any, asset: dict[str, str], triggerer: Triggerer
) -> None:
    old = finish(client, emulator, "ingest")
    await wait_ended(emulator, old)
    watcher = TriggerRunEventTrigger(task_identifier="ingest", since="2000-01-01T00:00:00+00:00", **FAST)

    await triggerer.start(4, watcher, asset)
    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event for the earlier run")
    await more_polls(emulator)

    assert [p["run_id"] for p in triggerer.payloads] == [old]


async def test_without_a_state_store_the_cursor_is_kept_in_memory(
    emulator: EmulatorServer, client: Any, triggerer: Triggerer
) -> None:
    """Airflow < 3.3 (no store): fires once per run; a restart starts again from now."""
    await triggerer.start(5, TriggerRunEventTrigger(task_identifier="ingest", **FAST), assets=None)
    await more_polls(emulator, 2)
    first = finish(client, emulator, "ingest")
    await wait_ended(emulator, first)
    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event")
    await more_polls(emulator)
    assert [p["run_id"] for p in triggerer.payloads] == [first]

    await triggerer.stop(5)
    await triggerer.start(5, TriggerRunEventTrigger(task_identifier="ingest", **FAST), assets=None)
    await more_polls(emulator, 5)
    assert [p["run_id"] for p in triggerer.payloads] == [first]  # nothing replayed


@needs_airflow_3_3("The watcher cursor in the asset state store")
async def test_a_trigger_row_shared_by_two_assets_falls_back_to_memory(
    emulator: EmulatorServer,
    client: Any,
    supervisor: InProcessSupervisor,
    triggerer: Triggerer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Identical watchers on two assets share one row; Airflow's store shorthand then raises ValueError."""
    names = [f"trigger_dev_shared_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        make_active_asset(name, name)
    await triggerer.start(6, TriggerRunEventTrigger(task_identifier="ingest", **FAST), {n: n for n in names})
    await more_polls(emulator, 2)
    run_id = finish(client, emulator, "ingest")
    await wait_ended(emulator, run_id)

    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event")
    await more_polls(emulator)
    assert [p["run_id"] for p in triggerer.payloads] == [run_id]
    assert (
        "keeps its cursor in memory only: the asset state store refused the shorthand"
        in capsys.readouterr().out
    )


@only_below_3_3("the watcher cursor in the asset state store")
async def test_below_airflow_3_3_the_watcher_warns_that_its_cursor_is_in_memory_only(
    emulator: EmulatorServer,
    client: Any,
    asset: dict[str, str],
    triggerer: Triggerer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run by a real AssetWatcher workload, the watcher still fires once per run, and says why a restart
    will start again from now."""
    await triggerer.start(7, TriggerRunEventTrigger(task_identifier="ingest", **FAST), asset)
    await more_polls(emulator, 2)
    run_id = finish(client, emulator, "ingest")
    await wait_ended(emulator, run_id)
    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event")
    await more_polls(emulator)
    assert [p["run_id"] for p in triggerer.payloads] == [run_id]
    out = capsys.readouterr().out
    assert (
        "keeps its cursor in memory only: no asset_state_store (the store needs Airflow 3.3 or later; "
        f"this is Airflow {AIRFLOW_VERSION_TEXT}): a triggerer restart starts again from now"
    ) in out


@pytest.mark.usefixtures("no_list_lag")
@needs_airflow_3_3("The watcher cursor in the asset state store")
async def test_a_triggerer_killed_right_after_an_event_fires_it_again_rather_than_losing_it(
    emulator: EmulatorServer,
    client: Any,
    asset: dict[str, str],
    triggerer: Triggerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cursor is stored only once Airflow had time to persist the event: a crash in between must
    not leave a cursor that says "announced" for an event Airflow never received."""
    from airflow_provider_trigger.triggers import events

    monkeypatch.setattr(events, "EVENT_PERSIST_DELAY", 60.0)
    emulator.state.set_task(TaskBehaviour("ingest"))
    watcher = TriggerRunEventTrigger(task_identifier="ingest", **FAST)
    await triggerer.start(1, watcher, asset)
    await more_polls(emulator, 2)
    run_id = finish(client, emulator, "ingest")
    await wait_until(lambda: len(triggerer.payloads) >= 1, "the event")
    await more_polls(emulator, 3)

    await triggerer.stop(1)  # killed before the event can be known persisted
    restarted = Triggerer()
    await restarted.start(1, TriggerRunEventTrigger(task_identifier="ingest", **FAST), asset)
    try:
        await wait_until(lambda: len(restarted.payloads) >= 1, "the event again after the restart")
        assert [p["run_id"] for p in restarted.payloads] == [run_id]
    finally:
        await restarted.stop(1)
