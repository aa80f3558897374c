"""Many triggers on one event loop share one connection lookup (one supervisor round trip, not 1,000)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.hooks import TriggerConnectionError, TriggerHook, _settings_cache
from airflow_provider_trigger.hooks import trigger as hook_module
from tests.hooks.conftest import SetConn


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each real connection lookup the hooks make (through Airflow's async accessor)."""
    seen: list[str] = []
    original = hook_module.get_async_connection

    async def counting(conn_id: str, hook: Any = None) -> Any:
        seen.append(conn_id)
        await asyncio.sleep(0.01)  # a round trip to the triggerer's supervisor
        return await original(conn_id, hook=hook)

    monkeypatch.setattr(hook_module, "get_async_connection", counting)
    return seen


async def test_a_thousand_hooks_starting_together_make_one_lookup(
    set_conn: SetConn, emulator: EmulatorServer, lookups: list[str]
) -> None:
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.secret_key})

    settings = await asyncio.gather(*(TriggerHook().aget_settings() for _ in range(1000)))

    assert lookups == ["trigger_default"]
    assert {s.api_key for s in settings} == {emulator.secret_key}
    await TriggerHook(trigger_conn_id="trigger_default").aget_settings()  # later, within the TTL
    assert lookups == ["trigger_default"]


async def test_other_connections_are_looked_up_on_their_own(
    set_conn: SetConn, emulator: EmulatorServer, lookups: list[str]
) -> None:
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.secret_key})
    set_conn("trigger_prod", {"host": emulator.base_url, "password": emulator.keys["prod"]})

    dev, prod = await asyncio.gather(
        TriggerHook().aget_settings(), TriggerHook(trigger_conn_id="trigger_prod").aget_settings()
    )

    assert sorted(lookups) == ["trigger_default", "trigger_prod"]
    assert (dev.environment, prod.environment) == ("dev", "prod")


async def test_a_failed_lookup_is_not_kept(
    set_conn: SetConn, emulator: EmulatorServer, lookups: list[str]
) -> None:
    set_conn("trigger_later", {"host": emulator.base_url, "password": "not-a-key"})
    with pytest.raises(TriggerConnectionError):
        await TriggerHook(trigger_conn_id="trigger_later").aget_settings()

    set_conn("trigger_later", {"host": emulator.base_url, "password": emulator.secret_key})
    settings = await TriggerHook(trigger_conn_id="trigger_later").aget_settings()

    assert settings.api_key == emulator.secret_key
    assert lookups == ["trigger_later", "trigger_later"]


async def test_a_changed_connection_is_read_again_after_the_ttl(
    set_conn: SetConn, emulator: EmulatorServer, lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_settings_cache, "SETTINGS_TTL", 0.0)
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.secret_key})
    first = await TriggerHook().aget_settings()
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.keys["prod"]})
    second = await TriggerHook().aget_settings()

    assert (first.environment, second.environment) == ("dev", "prod")
    assert len(lookups) == 2


async def test_a_cancelled_trigger_does_not_cancel_the_shared_lookup(
    set_conn: SetConn, emulator: EmulatorServer, lookups: list[str]
) -> None:
    set_conn("trigger_default", {"host": emulator.base_url, "password": emulator.secret_key})
    first = asyncio.create_task(TriggerHook().aget_settings())
    second = asyncio.create_task(TriggerHook().aget_settings())
    await asyncio.sleep(0)
    first.cancel()

    settings = await second

    assert settings.api_key == emulator.secret_key and lookups == ["trigger_default"]
