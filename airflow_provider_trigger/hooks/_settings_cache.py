"""One connection lookup for many triggers: resolved settings are shared on the running loop briefly.

In Airflow 3's triggerer every connection lookup (and the masking of its key) is a round trip to the
triggerer's supervisor process, which answers them one at a time between its own database work. With
1,000 deferred waits starting at once, one lookup each queued the last trigger's first request behind
~2,000 round trips (seconds to tens of seconds on a busy triggerer). Hooks on one event loop now share
the lookup of a connection for :data:`SETTINGS_TTL` seconds: concurrent callers await the same lookup,
a failed lookup is not kept (the next caller tries again), and a changed connection is picked up by
triggers that start after the TTL.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from airflow_provider_trigger.hooks._connection import TriggerConnectionSettings

SETTINGS_TTL = 30.0
"""Seconds a resolved connection is reused by other hooks on the same event loop."""


@dataclass
class _Lookup:
    task: asyncio.Task[TriggerConnectionSettings]
    expires: float

    def usable(self, now: float) -> bool:
        if not self.task.done():
            return True
        return not self.task.cancelled() and self.task.exception() is None and now < self.expires


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Lookup]] = (
    weakref.WeakKeyDictionary()
)


async def shared_settings(
    key: Hashable, resolve: Callable[[], Awaitable[TriggerConnectionSettings]]
) -> TriggerConnectionSettings:
    """The settings for ``key`` resolved on this loop within the TTL, else ``resolve()`` (shared)."""
    loop = asyncio.get_running_loop()
    lookups = _by_loop.setdefault(loop, {})
    lookup = lookups.get(key)
    if lookup is None or not lookup.usable(loop.time()):

        async def run() -> TriggerConnectionSettings:
            return await resolve()

        lookup = lookups[key] = _Lookup(loop.create_task(run()), loop.time() + SETTINGS_TTL)
    # shield: one cancelled waiter (its trigger was cancelled) does not cancel the others' lookup
    return await asyncio.shield(lookup.task)


def forget_settings() -> None:
    """Drop the running loop's shared lookups (tests; a changed connection is then read at once)."""
    _by_loop.pop(asyncio.get_running_loop(), None)
