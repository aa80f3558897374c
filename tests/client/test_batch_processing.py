"""``batches.wait_until_processed``: waiting for a v3 batch's items to become runs (sync and async)."""

from __future__ import annotations

import json

import pytest
import requests

from airflow_provider_trigger.client import AsyncTriggerClient, BatchProcessingTimeoutError, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, ManualClock


@pytest.fixture
def clocked(emulator: EmulatorServer) -> tuple[TriggerClient, ManualClock]:
    """A client whose waits move the emulator's clock: deterministic, and nothing really sleeps."""
    clock = ManualClock()
    emulator.state.clock = clock
    client = TriggerClient(emulator.secret_key, base_url=emulator.base_url, sleep=clock.advance, clock=clock)
    return client, clock


def test_wait_returns_runs_in_item_order(
    emulator: EmulatorServer, clocked: tuple[TriggerClient, ManualClock]
) -> None:
    client, _ = clocked
    batch = client.tasks.batch_trigger("hello-world", [{"payload": i} for i in range(5)])
    assert batch.run_ids == []
    processed = client.batches.wait_until_processed(batch.id, timeout=30, poll_interval=0.1)
    assert processed.batch_id == batch.id and processed.failures == []
    assert processed.status == "PENDING" and processed.run_count == 5
    assert [client.runs.retrieve(r).payload for r in processed.run_ids] == list(range(5))
    polls = [r for r in emulator.requests.all() if r.path == f"/api/v2/batches/{batch.id}"]
    assert len(polls) >= 2  # it was PROCESSING first


def test_wait_reports_items_that_got_no_run(
    emulator: EmulatorServer, clocked: tuple[TriggerClient, ManualClock]
) -> None:
    client, _ = clocked
    emulator.state.config.queue_size_limit = 0
    batch = client.tasks.batch_trigger("hello-world", [{"payload": 1}, {"payload": 2}])
    processed = client.batches.wait_until_processed(batch.id, timeout=30)
    assert (processed.status, processed.run_ids) == ("ABORTED", [])
    [failure] = processed.failures
    assert failure.error_code == "QUEUE_SIZE_LIMIT_EXCEEDED" and failure.task_identifier == "hello-world"


def test_failed_item_is_a_system_failure_run_in_its_place(
    emulator: EmulatorServer, clocked: tuple[TriggerClient, ManualClock]
) -> None:
    client, _ = clocked
    headers = {"Authorization": f"Bearer {emulator.secret_key}"}
    created = requests.post(f"{emulator.base_url}/api/v3/batches", json={"runCount": 2}, headers=headers)
    batch_id = created.json()["id"]
    tags = [f"t{i}" for i in range(11)]  # the client refuses this itself; another SDK might not
    lines = [
        {"index": 0, "task": "hello-world"},
        {"index": 1, "task": "hello-world", "options": {"tags": tags}},
    ]
    requests.post(
        f"{emulator.base_url}/api/v3/batches/{batch_id}/items",
        data="\n".join(json.dumps(line) for line in lines),
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    processed = client.batches.wait_until_processed(batch_id, timeout=30)
    assert processed.failures == [] and len(processed.run_ids) == 2
    assert client.runs.retrieve(processed.run_ids[1]).status == "SYSTEM_FAILURE"


def test_wait_times_out_with_the_batch_named(
    emulator: EmulatorServer, clocked: tuple[TriggerClient, ManualClock]
) -> None:
    client, _ = clocked
    emulator.state.config.batch_processing_time = 600
    batch = client.tasks.batch_trigger("hello-world", [{"payload": 1}])
    with pytest.raises(BatchProcessingTimeoutError) as info:
        client.batches.wait_until_processed(batch.id, timeout=5, poll_interval=1)
    assert info.value.batch_id == batch.id and info.value.status == "PROCESSING"
    assert batch.id in str(info.value) and "5s" in str(info.value)


def test_wait_rejects_bad_arguments_before_any_request(
    emulator: EmulatorServer, clocked: tuple[TriggerClient, ManualClock]
) -> None:
    client, _ = clocked
    with pytest.raises(ValueError, match="poll_interval"):
        client.batches.wait_until_processed("batch_x", poll_interval=0)
    assert len(emulator.requests) == 0


async def test_async_wait(emulator: EmulatorServer) -> None:
    clock = ManualClock()
    emulator.state.clock = clock

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    async with AsyncTriggerClient(
        emulator.secret_key, base_url=emulator.base_url, sleep=advance, clock=clock
    ) as client:
        batch = await client.tasks.batch_trigger("hello-world", [{"payload": "a"}, {"payload": "b"}])
        processed = await client.batches.wait_until_processed(batch.id, timeout=30, poll_interval=0.5)
        assert [(await client.runs.retrieve(r)).payload for r in processed.run_ids] == ["a", "b"]
