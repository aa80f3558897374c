"""Process-wide ``AsyncTriggerClient`` instances, one per (running event loop, credentials).

Airflow's triggerer runs every deferred task of a process in one event loop, so 1,000 waiting runs on
one connection share one client and therefore one httpx connection pool. The clients of a loop are
closed when the loop shuts down its async generators (``asyncio.run`` and pytest-asyncio do) or by
:func:`close_async_clients`. Never close a shared client yourself.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from airflow_provider_trigger.client import AsyncTriggerClient
from airflow_provider_trigger.hooks._connection import TriggerConnectionSettings

ClientKey = tuple[str, str, str | None, float | None, object]


@dataclass
class _LoopClients:
    clients: dict[ClientKey, AsyncTriggerClient] = field(default_factory=dict)
    closer: AsyncGenerator[None, None] | None = None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()


def client_key(settings: TriggerConnectionSettings) -> ClientKey:
    """What makes two connections share a client; the key itself is kept only as a digest."""
    digest = hashlib.sha256(settings.api_key.encode()).hexdigest()
    return (digest, settings.base_url, settings.preview_branch, settings.timeout, settings.retry)


async def shared_async_client(settings: TriggerConnectionSettings) -> AsyncTriggerClient:
    """The running loop's client for these settings, created on first use."""
    loop = asyncio.get_running_loop()
    entry = _by_loop.get(loop)
    if entry is None:
        entry = _by_loop[loop] = _LoopClients()
        entry.closer = _close_at_loop_shutdown(entry)
        await entry.closer.asend(None)  # registered with the loop: closed by shutdown_asyncgens()
    key = client_key(settings)
    client = entry.clients.get(key)
    if client is None:
        client = entry.clients[key] = AsyncTriggerClient(**settings.client_kwargs())
    return client


async def close_async_clients() -> int:
    """Close the running loop's shared clients (e.g. at the end of a test); returns how many."""
    entry = _by_loop.pop(asyncio.get_running_loop(), None)
    if entry is None:
        return 0
    count = len(entry.clients)
    await _close_all(entry)
    if entry.closer is not None:
        await entry.closer.aclose()
    return count


def open_client_count() -> int:
    """Shared clients held for the running loop (for tests and benchmarks)."""
    entry = _by_loop.get(asyncio.get_running_loop())
    return len(entry.clients) if entry else 0


async def _close_all(entry: _LoopClients) -> None:
    clients, entry.clients = list(entry.clients.values()), {}
    for client in clients:
        await client.aclose()


async def _close_at_loop_shutdown(entry: _LoopClients) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _by_loop.pop(asyncio.get_running_loop(), None)
        await _close_all(entry)
