"""Fixtures for the realtime tests: short long-poll holds, clients whose backoff sleeps are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from airflow_provider_trigger.client import AsyncTriggerClient, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.hooks import close_async_clients
from tests.task_runtime import connection_env


@pytest.fixture(autouse=True)
def short_hold(emulator: EmulatorServer) -> None:
    """Quiet live requests are answered after 0.3 s instead of 20 s."""
    emulator.state.config.realtime_hold_timeout = 0.3


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(emulator: EmulatorServer, sleeps: list[float]) -> Iterator[TriggerClient]:
    """A sync client whose backoff sleeps are recorded, not slept."""
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url, sleep=sleeps.append) as c:
        yield c


@pytest.fixture
async def aclient(emulator: EmulatorServer, sleeps: list[float]) -> AsyncIterator[AsyncTriggerClient]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncTriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url, sleep=record) as c:
        yield c


@pytest.fixture
async def shared_clients() -> AsyncIterator[None]:
    """Close the hook's shared async clients of the test's loop at the end."""
    yield
    await close_async_clients()


def realtime_requests(emulator: EmulatorServer, path: str = "/realtime/") -> list[Any]:
    return emulator.requests.filter("GET", path)


def poll_requests(emulator: EmulatorServer) -> list[Any]:
    return emulator.requests.filter("GET", "/api/v3/runs/")
