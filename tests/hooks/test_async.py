"""The async twin: one shared AsyncTriggerClient per (event loop, credentials), read async-safely."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import pytest

from airflow_provider_trigger.client import AsyncTriggerClient
from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.hooks import TriggerConnectionError, TriggerHook, close_async_clients
from airflow_provider_trigger.hooks._async_clients import open_client_count
from tests.hooks.conftest import SetConn


def _is_closed(client: AsyncTriggerClient) -> bool:
    """Whether the client's httpx pool is closed (the client has no public flag for it yet)."""
    return bool(client._transport.http.is_closed)


@pytest.fixture
def conns(set_conn: SetConn, emulator: EmulatorServer) -> EmulatorServer:
    """Dev key as JSON (``trigger_default``) and URI (``trigger_uri``); prod key as ``trigger_prod``."""
    port = urlsplit(emulator.base_url).port
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.secret_key})
    set_conn("trigger_uri", f"trigger://:{emulator.secret_key}@127.0.0.1:{port}")
    set_conn("trigger_prod", {"host": emulator.base_url, "password": emulator.keys["prod"]})
    return emulator


async def test_same_credentials_share_one_client(conns: EmulatorServer) -> None:
    a = await TriggerHook().get_async_client()
    b = await TriggerHook().get_async_client()
    c = await TriggerHook(trigger_conn_id="trigger_uri").get_async_client()  # same key, URL, other conn id
    assert isinstance(a, AsyncTriggerClient)
    assert a is b is c
    assert open_client_count() == 1
    handle = await a.tasks.trigger("hello-world", {"n": 1})
    assert (await c.runs.retrieve(handle.id)).id == handle.id
    await close_async_clients()


async def test_different_credentials_get_different_clients(conns: EmulatorServer, set_conn: SetConn) -> None:
    set_conn(
        "trigger_branch",
        {"host": conns.base_url, "password": conns.secret_key, "extra": {"preview_branch": "feature-x"}},
    )
    dev = await TriggerHook().get_async_client()
    prod = await TriggerHook(trigger_conn_id="trigger_prod").get_async_client()
    branch = await TriggerHook(trigger_conn_id="trigger_branch").get_async_client()
    assert len({id(dev), id(prod), id(branch)}) == 3
    await prod.runs.list(limit=1)
    (sent,) = conns.requests.all()
    assert sent.headers["authorization"] == f"Bearer {conns.keys['prod']}"
    assert await close_async_clients() == 3


async def test_a_thousand_triggers_share_one_client(conns: EmulatorServer) -> None:
    hooks = [TriggerHook(trigger_conn_id="trigger_uri" if i % 2 else "trigger_default") for i in range(1000)]
    clients = await asyncio.gather(*(hook.get_async_client() for hook in hooks))
    assert len({id(client) for client in clients}) == 1
    assert open_client_count() == 1
    await close_async_clients()


async def test_async_settings_fill_the_sync_cache(conns: EmulatorServer) -> None:
    hook = TriggerHook()
    settings = await hook.aget_settings()
    assert settings.api_key == conns.secret_key
    assert hook.settings is settings
    assert await hook.aget_settings() is settings


async def test_bad_connection_fails_before_any_request(conns: EmulatorServer, set_conn: SetConn) -> None:
    set_conn("trigger_bad", {"host": conns.base_url, "password": "not-a-key"})
    with pytest.raises(TriggerConnectionError, match=r"'trigger_bad'.*password"):
        await TriggerHook(trigger_conn_id="trigger_bad").get_async_client()
    assert len(conns.requests) == 0


async def test_close_async_clients_closes_and_forgets(conns: EmulatorServer) -> None:
    first = await TriggerHook().get_async_client()
    await first.runs.list(limit=1)
    assert await close_async_clients() == 1
    assert _is_closed(first)
    assert open_client_count() == 0
    second = await TriggerHook().get_async_client()
    assert second is not first
    await second.runs.list(limit=1)
    await close_async_clients()


def test_each_loop_gets_its_own_client_closed_with_the_loop(conns: EmulatorServer) -> None:
    async def use() -> AsyncTriggerClient:
        client = await TriggerHook().get_async_client()
        await client.runs.list(limit=1)
        return client

    first = asyncio.run(use())
    second = asyncio.run(use())
    assert first is not second
    assert _is_closed(first) and _is_closed(second)  # closed by the loop's shutdown_asyncgens()
    assert len(conns.requests) == 2


async def test_async_path_masks_the_key(set_conn: SetConn) -> None:
    from airflow.providers.common.compat.sdk import redact

    key = "tr_stg_" + uuid.uuid4().hex
    set_conn("trigger_masked", f"trigger://:{key}@")
    assert redact(key) == key
    settings = await TriggerHook(trigger_conn_id="trigger_masked").aget_settings()
    assert settings.environment == "staging"
    assert redact(f"Bearer {key}") == "Bearer ***"
