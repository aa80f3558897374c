"""Large async responses are decoded in a worker thread, never on the triggerer's event loop.

Decoding a page of 100 runs or a realtime snapshot of hundreds of runs costs tens of milliseconds of
CPU; on a shared triggerer that shows up as "async thread was blocked" and delays every other trigger.
Small responses (one run's state) stay on the loop. What is checked is *where* the work runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_trigger.client import AsyncTriggerClient, TriggerClient, _transport
from airflow_provider_trigger.client.realtime import _protocol
from airflow_provider_trigger.emulator import EmulatorServer

TAG = "dagrun-off-loop"


@pytest.fixture(autouse=True)
def no_rate_limits(emulator: EmulatorServer) -> Iterator[None]:
    """300 runs at once is over the emulator's production batch and API rate limits."""
    config = emulator.state.config
    saved = config.rate_limit, config.batch_rate_limit
    config.rate_limit = config.batch_rate_limit = None
    yield
    config.rate_limit, config.batch_rate_limit = saved


@pytest.fixture
def tagged_runs(client: TriggerClient) -> list[str]:
    items = [{"payload": {"n": n, "pad": "x" * 200}, "options": {"tags": [TAG]}} for n in range(300)]
    batch = client.tasks.batch_trigger("resize", items, wait_until_processed=30)
    return list(batch.run_ids)


def _record_threads(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple[bool, int]]:
    """Wrap ``module.name``; record (ran on the loop thread?, size of the work) per call."""
    calls: list[tuple[bool, int]] = []
    original = getattr(module, name)
    loop_thread = threading.get_ident()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        size = max((len(a) for a in args if isinstance(a, (bytes, list))), default=0)
        calls.append((threading.get_ident() == loop_thread, size))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


async def test_a_page_of_runs_is_decoded_off_the_loop_and_a_single_run_on_it(
    aclient: AsyncTriggerClient, tagged_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _record_threads(monkeypatch, _transport, "finish")

    page = [run async for run in await aclient.runs.list(limit=100, tag=[TAG])]
    one = await aclient.runs.retrieve(tagged_runs[0])

    assert len(page) >= 100 and one.id == tagged_runs[0]  # the runs list may lag behind the batch
    big = [on_loop for on_loop, size in calls if size > _transport.OFF_LOOP_BYTES]
    small = [on_loop for on_loop, size in calls if size <= _transport.OFF_LOOP_BYTES]
    assert big and not any(big), calls  # every page of 100 runs: in a worker thread
    assert small and all(small), calls  # the single run: on the loop


async def test_a_realtime_snapshot_is_applied_off_the_loop(
    aclient: AsyncTriggerClient,
    tagged_runs: list[str],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bool, int]] = []
    original = _protocol.FeedState.apply
    loop_thread = threading.get_ident()

    def apply(self: Any, status: int, headers: Any, body: Any) -> Any:
        calls.append((threading.get_ident() == loop_thread, len(body) if isinstance(body, list) else 0))
        return original(self, status, headers, body)

    monkeypatch.setattr(_protocol.FeedState, "apply", apply)
    seen: set[str] = set()
    async for batch in aclient.runs.subscribe_to_runs_with_tag(TAG).batches():
        seen.update(run.id for run in batch)
        if seen >= set(tagged_runs):
            break

    snapshot = [on_loop for on_loop, size in calls if size > 50]
    assert snapshot and not any(snapshot), calls
