"""Figure 1: no duplicate and no lost runs while the network and the server misbehave.

Fast versions of ``benchmarks/reliability.py`` (which runs 1,000 calls): real client, real emulator,
random faults of every kind on ~20 % of API requests; retry waits are recorded, not slept.
"""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_trigger.client import (
    ApiConnectionError,
    AsyncTriggerClient,
    RetryOptions,
    TriggerClient,
)
from airflow_provider_trigger.emulator import EmulatorServer
from benchmarks.reliability import FAULT_KINDS, batches_under_faults, trigger_under_faults


def test_triggers_under_every_fault_kind_give_one_run_each(emulator: EmulatorServer) -> None:
    figures = trigger_under_faults(emulator, 300, seed=11)

    assert set(figures.faults) == {str(kind) for kind in FAULT_KINDS}
    assert figures.faulted >= 0.1 * figures.requests
    assert not figures.call_errors
    assert figures.ids_returned == figures.distinct_ids == figures.server_runs == 300
    assert figures.duplicates == figures.lost == figures.mismatched == 0


def test_the_request_idempotency_header_is_what_saves_unkeyed_calls(emulator: EmulatorServer) -> None:
    saved = trigger_under_faults(emulator, 150, seed=5, kinds=["drop_after"])
    control = trigger_under_faults(emulator, 150, seed=5, kinds=["drop_after"], request_key=False)

    assert saved.drop_after_unkeyed > 0 and saved.duplicates == 0
    # without the header, exactly the unkeyed calls whose response was lost after the run was created
    # got a second run; the keyed ones were still saved by their idempotency key
    assert control.drop_after_unkeyed > 0
    assert control.duplicates == control.drop_after_unkeyed


def test_batch_triggers_under_faults_give_one_run_per_item(emulator: EmulatorServer) -> None:
    figures = batches_under_faults(emulator, 12, 10, seed=4)

    assert figures.faulted > 0
    assert not figures.call_errors
    assert figures.ids_returned == figures.distinct_ids == figures.server_runs == 120
    assert figures.duplicates == figures.lost == figures.mismatched == 0


@pytest.mark.parametrize("kind", ["drop_after", 503, 409])
def test_keyed_batch_whose_create_response_was_lost_still_gets_its_runs(
    emulator: EmulatorServer, kind: int | str
) -> None:
    """Regression: a keyed batch created, then its response lost, came back ``isCached`` and the client
    skipped the item stream, so the batch stayed empty: 10 runs lost."""
    emulator.faults.inject("POST", "/api/v3/batches", "drop_after", count=1)
    emulator.faults.inject("POST", "/api/v3/batches/*/items", kind, count=1)
    with TriggerClient(emulator.secret_key, base_url=emulator.base_url, sleep=lambda _: None) as client:
        items = [{"payload": i} for i in range(10)]
        result = client.tasks.batch_trigger(
            "reliability", items, idempotency_key="lost-response", wait_until_processed=30
        )
        again = client.tasks.batch_trigger(
            "reliability", items, idempotency_key="lost-response", wait_until_processed=30
        )

    assert len(emulator.state.runs) == 10
    assert sorted(result.run_ids) == sorted(emulator.state.runs)
    assert again.is_cached and again.run_ids == result.run_ids
    assert len(emulator.state.stores.batches) == 1
    streams = emulator.requests.filter("POST", f"/api/v3/batches/{result.id}/items")
    assert len(streams) == 2  # the stream once more after the fault, none on the cached replay


def test_async_client_under_faults_gives_one_run_per_call(emulator: EmulatorServer) -> None:
    emulator.faults.inject_random(0.25, FAULT_KINDS, seed=9, path="/api/*", reset_after=0.2)

    async def no_wait(_: float) -> None:
        return None

    async def trigger_all() -> list[str]:
        # concurrent calls make the fault sequence vary between runs: with 25 % faults, 5 attempts
        # exhaust for ~0.1 % of calls (then the call raises), so this test gives each call 10
        async with AsyncTriggerClient(
            emulator.secret_key, base_url=emulator.base_url, sleep=no_wait, retry=RetryOptions(10)
        ) as client:
            calls = [
                client.tasks.trigger(
                    "reliability", {"call": n}, **({"idempotency_key": f"a{n}"} if n % 2 else {})
                )
                for n in range(120)
            ]
            return [result.id for result in await asyncio.gather(*calls)]

    ids = asyncio.run(trigger_all())

    assert emulator.faults.fired
    assert len(ids) == len(set(ids)) == 120
    assert set(ids) == set(emulator.state.runs)


def test_exhausted_retries_raise_and_a_keyed_retry_reattaches(emulator: EmulatorServer) -> None:
    """Every attempt applied but unanswered: the call raises (never a silent loss), the server holds
    one run, and calling again with the same idempotency key returns that run instead of a second."""
    emulator.faults.inject("POST", "/api/v1/tasks/*/trigger", "drop_after", count=5)
    with TriggerClient(emulator.secret_key, base_url=emulator.base_url, sleep=lambda _: None) as client:
        with pytest.raises(ApiConnectionError, match="could not reach"):
            client.tasks.trigger("reliability", {"n": 1}, idempotency_key="order-1")
        [run_id] = emulator.state.runs
        again = client.tasks.trigger("reliability", {"n": 1}, idempotency_key="order-1")

    assert len(emulator.requests) == 6
    assert again.id == run_id and again.is_cached
    assert len(emulator.state.runs) == 1
