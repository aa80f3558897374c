"""Raw responses (status + headers + parsed) and the async client over the same resources."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import (
    AsyncCursorPage,
    AsyncTriggerClient,
    InternalServerError,
    NotFoundError,
    RawResponse,
    RetryOptions,
    Run,
    RunStatus,
    TriggerClient,
    TriggerClientError,
    TriggerResult,
)
from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour


def test_raw_response_has_status_headers_and_parsed(client: TriggerClient, emulator: EmulatorServer) -> None:
    raw = client.with_raw_response.tasks.trigger("hello-world", {"a": 1})
    assert isinstance(raw, RawResponse) and isinstance(raw.parsed, TriggerResult)
    assert raw.status_code == 200
    assert raw.headers.get("x-trigger-jwt")  # the public token header
    assert raw.data is raw.parse() is raw.parsed
    assert raw.method == "POST" and raw.url.endswith("/api/v1/tasks/hello-world/trigger")
    assert (
        raw.request_idempotency_key
        == emulator.requests.all()[-1].headers["x-trigger-request-idempotency-key"]
    )
    retrieved = client.with_raw_response.runs.retrieve(raw.parsed.id)
    assert isinstance(retrieved.parsed, Run) and retrieved.retries_taken == 0


def test_raw_response_counts_retries(client: TriggerClient, emulator: EmulatorServer) -> None:
    emulator.faults.inject("GET", "/api/v1/schedules", kind=503, count=2)
    raw = client.with_raw_response.schedules.list()
    assert raw.retries_taken == 2 and raw.status_code == 200
    assert raw.parsed.data == []


@pytest.mark.usefixtures("no_list_lag")  # lists right after triggering; the lag is not the point
def test_raw_list_and_flow(client: TriggerClient) -> None:
    client.tasks.trigger("hello-world", {})
    page = client.with_raw_response.runs.list()
    assert page.status_code == 200 and len(page.parsed.data) == 1
    batch = client.with_raw_response.tasks.batch_trigger("hello-world", [{"payload": 1}])
    assert batch.status_code == 200 and batch.parsed.run_count == 1


async def test_async_trigger_retrieve_cancel(
    async_client: AsyncTriggerClient, emulator: EmulatorServer
) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=100))
    handle = await async_client.tasks.trigger("slow", {"x": 1})
    run = await async_client.runs.retrieve(handle.id)
    assert run.id == handle.id and not run.is_terminal
    assert (await async_client.runs.cancel(handle.id)).id == handle.id
    assert (await async_client.runs.retrieve(handle.id)).status is RunStatus.CANCELED


@pytest.mark.usefixtures("no_list_lag")  # lists right after triggering; the lag is not the point
async def test_async_list_iterates_every_page(
    async_client: AsyncTriggerClient, emulator: EmulatorServer
) -> None:
    ids = [(await async_client.tasks.trigger("hello-world", {"i": i})).id for i in range(7)]
    page = await async_client.runs.list(limit=3)
    assert isinstance(page, AsyncCursorPage) and page.has_next_page()
    emulator.requests.clear()
    seen = [run.id async for run in page]
    assert sorted(seen) == sorted(ids)
    assert len(emulator.requests) == 2
    pages = [p async for p in page.iter_pages()]
    assert [len(p.data) for p in pages] == [3, 3, 1]
    assert [r.id for r in (await pages[1].get_previous_page()).data] == [r.id for r in page.data]


async def test_async_batch_and_batch_retrieve(async_client: AsyncTriggerClient) -> None:
    result = await async_client.tasks.batch_trigger("hello-world", [{"payload": i} for i in range(4)])
    assert result.run_ids == [] and result.run_count == 4
    processed = await async_client.batches.wait_until_processed(result.id, timeout=30)
    batch = await async_client.batches.retrieve(result.id)
    assert batch.runs == processed.run_ids and len(processed.run_ids) == 4 and batch.processed


async def test_async_retries_with_one_request_key(
    async_client: AsyncTriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", "/api/v1/tasks/*/trigger", kind=503, count=2)
    emulator.faults.inject("POST", "/api/v1/tasks/*/trigger", kind="drop_before", count=1)
    await async_client.tasks.trigger("hello-world", {})
    sent = [r for r in emulator.requests.all() if r.path.endswith("/trigger")]
    assert len(sent) == 4 and len({r.headers["x-trigger-request-idempotency-key"] for r in sent}) == 1
    assert sleeps == pytest.approx([1.0, 1.6, 2.56])


async def test_async_errors_and_misuse(async_client: AsyncTriggerClient, emulator: EmulatorServer) -> None:
    emulator.faults.inject("GET", "/api/v1/schedules", kind=500, count=None)
    with pytest.raises(InternalServerError):
        await async_client.with_options(retry=None, timeout=5).schedules.list()
    with pytest.raises(NotFoundError):
        await async_client.schedules.retrieve("sched_missing")
    with pytest.raises(TriggerClientError):
        await async_client.runs.retrieve("")


async def test_async_raw_response(async_client: AsyncTriggerClient, emulator: EmulatorServer) -> None:
    clock = ManualClock()
    emulator.state.clock = clock
    handle = await async_client.tasks.trigger("hello-world", {})
    clock.advance(3600)
    raw = await async_client.with_raw_response.runs.retrieve(handle.id)
    assert raw.status_code == 200 and raw.parsed.is_success


async def test_async_client_with_pat_lists_project_runs(emulator: EmulatorServer) -> None:
    async with AsyncTriggerClient(emulator.pat, base_url=emulator.base_url) as pat:
        page = await pat.runs.list(project_ref=emulator.project_ref, env="dev")
        assert page.data == []
        with pytest.raises(TriggerClientError, match="secret key"):
            await pat.runs.retrieve("run_1")


async def test_concurrent_async_retries_do_not_interfere(
    async_client: AsyncTriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    import asyncio

    # 10 faults spread over 10 concurrent calls, each allowed 11 attempts: no call can run out of its
    # own budget however the faults fall, but a retry state shared between the coroutines would count
    # all 20 attempts against one budget and give up.
    emulator.faults.inject("GET", "/api/v1/schedules", kind=503, count=10)
    client = async_client.with_options(retry=RetryOptions(max_attempts=11))
    pages = await asyncio.gather(*(client.schedules.list() for _ in range(10)))
    assert all(page.data == [] for page in pages)
    assert len([r for r in emulator.requests.all() if r.status == 503]) == 10
    assert len(sleeps) == 10
