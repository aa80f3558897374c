"""CI smoke version of ``benchmarks/perf.py``: the request counts of issue 10, never timings.

Each test runs the real code against the emulator and counts what reached it (the emulator's request log).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psutil
import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.client._request import ApiRequest
from airflow_provider_trigger.client._types import omit
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import TriggerHook, close_async_clients
from airflow_provider_trigger.hooks._async_clients import open_client_count
from airflow_provider_trigger.operators.envvars import TriggerEnvVarsSyncOperator
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger
from tests.task_runtime import connection_env


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as c:
        yield c


def _list_requests(emulator: EmulatorServer) -> int:
    return len(emulator.requests.filter("GET", "/api/v1/runs"))


@pytest.mark.usefixtures("no_list_lag")  # counts list requests over runs just created
@pytest.mark.parametrize(("runs", "page_size"), [(250, 100), (200, 100), (37, 10)])
def test_listing_sends_one_request_per_page_and_no_trailing_empty_page(
    emulator: EmulatorServer, client: TriggerClient, runs: int, page_size: int
) -> None:
    for start in range(0, runs, 100):
        items = [{"payload": i} for i in range(start, min(runs, start + 100))]
        client.tasks.batch_trigger("perf-list", items, wait_until_processed=60)
    emulator.requests.clear()

    page_sizes = [
        len(page.data) for page in client.runs.list(task_identifier="perf-list", limit=page_size).iter_pages()
    ]

    assert sum(page_sizes) == runs
    assert _list_requests(emulator) == math.ceil(runs / page_size)
    assert page_sizes[-1] > 0  # a full last page is not followed by an empty one

    emulator.requests.clear()
    assert sum(1 for _ in client.runs.list(task_identifier="perf-list", limit=page_size)) == runs
    assert _list_requests(emulator) == math.ceil(runs / page_size)


def test_envvar_sync_reads_once_and_writes_only_when_something_changed(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, project_ref=emulator.project_ref)
    )
    desired = {f"PERF_VAR_{i:03d}": f"value-{i}" for i in range(120)}

    def sync(variables: dict[str, str]) -> tuple[int, int]:
        emulator.requests.clear()
        TriggerEnvVarsSyncOperator(task_id="sync", variables=variables).execute({})  # type: ignore[arg-type]
        log = emulator.requests.filter(path="/api/v1/projects/")
        reads = sum(1 for r in log if r.method == "GET")
        return reads, len(log) - reads

    assert sync(desired) == (1, 1)
    changed = {**desired, "PERF_VAR_007": "new", "PERF_VAR_099": "new"}
    assert sync(changed) == (1, 1)
    assert sync(changed) == (1, 0)


def test_batch_trigger_is_two_requests_with_the_items_streamed(
    emulator: EmulatorServer, client: TriggerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    described: list[ApiRequest[Any]] = []
    send = client._transport.send

    def recording_send(request: ApiRequest[Any]) -> Any:  # a spy: every request still goes out for real
        described.append(request)
        return send(request)

    monkeypatch.setattr(client._transport, "send", recording_send)
    emulator.requests.clear()

    client.tasks.batch_trigger("perf-batch", [{"payload": {"i": i}} for i in range(300)])

    assert [f"{r.method} {r.path.split('/')[-1]}" for r in emulator.requests] == [
        "POST batches",
        "POST items",
    ]
    items = described[1]
    assert items.body is omit  # no pre-built body …
    assert items.stream is not None
    lines = items.stream()
    assert inspect.isgenerator(lines)  # … but lines produced one at a time
    first = next(lines)
    assert isinstance(first, bytes) and first.endswith(b"\n") and first.count(b"\n") == 1
    received = emulator.requests[-1]
    assert received.headers.get("transfer-encoding") == "chunked"  # sent as it was produced
    assert "content-length" not in received.headers
    assert received.body.count(b"\n") == 300


def _client_ports(port: int) -> set[int]:
    """Local ports of this process's open (ESTABLISHED) TCP connections to ``port``.

    A socket the server already closed (CLOSE_WAIT, not yet reaped by httpx) holds no pool slot.
    """
    return {
        c.laddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


async def test_deferred_waits_share_one_pool_and_poll_once_per_interval(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    emulator.state.set_task(TaskBehaviour("perf-wait", duration=0.05, queue_time=0))
    now = datetime.now(UTC)
    items = [{"payload": i, "options": {"delay": now + timedelta(seconds=0.8 + i * 0.04)}} for i in range(30)]
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as setup:
        run_ids = setup.tasks.batch_trigger("perf-wait", items, wait_until_processed=30).run_ids
    poll = 0.2
    triggers = []
    for run_id in run_ids:  # revived from their serialized form, as the triggerer does
        classpath, kwargs = TriggerRunTrigger(run_id, poll_interval=poll, wait_mode="poll").serialize()
        assert classpath.endswith(".TriggerRunTrigger")
        triggers.append(TriggerRunTrigger(**kwargs))
    emulator.requests.clear()
    noticed: dict[str, float] = {}
    events: list[dict[str, Any]] = []
    max_sockets = 0

    async def run_one(trigger: TriggerRunTrigger) -> None:
        async for event in trigger.run():
            noticed[trigger.run_id] = time.time()
            events.append(event.payload)
            break

    earlier = _client_ports(emulator.port)  # left open by other tests of this session
    started = time.time()
    try:
        tasks = [asyncio.create_task(run_one(t)) for t in triggers]
        while not all(t.done() for t in tasks):
            max_sockets = max(max_sockets, len(_client_ports(emulator.port) - earlier))
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)
        shared = await TriggerHook().get_async_client()
        pool_size = cast(Any, shared._transport.http._transport)._pool._max_connections
        assert open_client_count() == 1  # one client (one pool) for every trigger of this connection
    finally:
        await close_async_clients()

    assert [e["status"] for e in events] == ["success"] * len(run_ids)
    assert 1 <= max_sockets <= pool_size
    polls: dict[str, int] = {}
    for request in emulator.requests.filter("GET", "/api/v3/runs/"):
        run_id = request.path.rsplit("/", 1)[1]
        polls[run_id] = polls.get(run_id, 0) + 1
    assert set(polls) == set(run_ids)
    for run_id in run_ids:  # each poll is followed by a full interval's sleep: never more than this
        assert polls[run_id] <= math.floor((noticed[run_id] - started) / poll) + 1
    assert max(polls.values()) >= 2  # the runs did have to be waited for
