"""Shared realtime feeds for the triggerer: many deferred waits, a handful of long-poll requests.

Every wait registers its run ids with the process-wide feed for its (event loop, credentials, feed):
a tag feed (runs this provider triggers carry a tag naming their Airflow DAG run), a batch feed, or a
single-run feed. One background task per feed follows the realtime protocol and wakes exactly the
waits whose runs changed. The feed is an optimisation, never a correctness dependency:

- a feed that fails (429 slots exhausted, repeated errors, a 4xx) raises :class:`FeedUnavailable`
  in every wait, which then polls the REST API instead;
- a run the feed does not cover (e.g. created before the tag feed's window) raises
  :class:`FeedNotCovering` after the feed has answered twice without it;
- a cancelled wait unregisters; the last one out stops the feed;
- at most :data:`MAX_FEEDS` feeds per credentials are open (one live request each); more waits poll.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_trigger.client import AsyncTriggerClient, RealtimeBackoff, Run
from airflow_provider_trigger.triggers.engine.realtime import log_fallback, realtime_blocker

FeedKind = Literal["tag", "batch", "run"]
FeedKey = tuple[Any, FeedKind, str]
FEED_BACKOFF = RealtimeBackoff(max_errors=4)
"""A shared feed gives up after 4 consecutive failures (about 0.5 s of backoff): waits then poll."""
SKIP_COLUMNS = ("payload", "metadata")
MAX_FEEDS = 5
"""Open feeds per credentials and loop: each holds one live request (the Free plan allows 10 per
environment, and the shared client pools 10 connections); waits beyond this poll."""
SHARED_LIVE_INTERVAL = 0.8
"""Seconds between two live requests of a tag or batch feed: a busy feed of 1,000 runs then costs
about one request per 0.8 s instead of one per change, and a change waits at most that long."""


class FeedUnavailable(Exception):
    """The shared feed stopped (its error is the message); the wait should poll instead."""


class FeedNotCovering(Exception):
    """The feed answered without this run: it is not in the feed (tag missing, outside the window)."""


@dataclass(eq=False)
class _Waiter:
    run_ids: frozenset[str]
    joined_at: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    seen: dict[str, Any] = field(default_factory=dict)


class SharedFeed:
    """One realtime feed and the waits registered on it (all on one event loop)."""

    def __init__(self, registry: FeedRegistry, key: FeedKey, client: AsyncTriggerClient) -> None:
        self.registry = registry
        self.key = key
        self.client = client
        self.runs: dict[str, Run] = {}
        self.generation = 0
        self.error: BaseException | None = None
        self._by_run: dict[str, set[_Waiter]] = {}
        self._uncovered: set[_Waiter] = set()
        self.requests = 0
        self._task = asyncio.get_running_loop().create_task(self._follow(), name=f"trigger-feed-{key[1]}")

    # -- the feed -------------------------------------------------------------------------------

    def _open(self) -> Any:
        _, kind, target = self.key
        runs = self.client.runs
        interval = SHARED_LIVE_INTERVAL
        if kind == "tag":
            return runs.subscribe_to_runs_with_tag(
                target, skip_columns=SKIP_COLUMNS, backoff=FEED_BACKOFF, min_live_interval=interval
            )
        if kind == "batch":
            return runs.subscribe_to_batch(
                target, skip_columns=SKIP_COLUMNS, backoff=FEED_BACKOFF, min_live_interval=interval
            )
        return runs.subscribe_to_run(
            target, skip_columns=SKIP_COLUMNS, stop_on_completion=False, backoff=FEED_BACKOFF
        )

    async def _follow(self) -> None:
        feed = None
        try:
            feed = self._open()
            async for batch in feed.batches():
                self.requests = feed.requests
                self.generation += 1
                for run in batch:
                    self.runs[run.id] = run
                    for waiter in self._by_run.get(run.id, ()):
                        waiter.wake.set()
                for waiter in self._uncovered:
                    waiter.wake.set()
            raise FeedUnavailable("the realtime feed ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
            self.registry.forget(self)
            for waiter in {w for waiters in self._by_run.values() for w in waiters}:
                waiter.wake.set()
        finally:
            if feed is not None:
                self.requests = feed.requests

    # -- waits ----------------------------------------------------------------------------------

    def add(self, run_ids: Collection[str]) -> _Waiter:
        # an up-to-date feed may have a response in flight computed before these runs existed
        joined = self.generation + (1 if self.generation else 0)
        waiter = _Waiter(frozenset(run_ids), joined)
        for run_id in waiter.run_ids:
            self._by_run.setdefault(run_id, set()).add(waiter)
        self._uncovered.add(waiter)
        waiter.wake.set()  # look at what the feed already knows
        return waiter

    def remove(self, waiter: _Waiter) -> None:
        for run_id in waiter.run_ids:
            waiters = self._by_run.get(run_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:  # the run's last state stays known, for a later wait on it
                    del self._by_run[run_id]
        self._uncovered.discard(waiter)
        if not self._by_run:
            self.close()

    def close(self) -> None:
        self.registry.forget(self)
        self._task.cancel()

    async def next_changes(self, waiter: _Waiter) -> list[Run]:
        """Wait until some of the waiter's runs changed; those runs (latest state each)."""
        while True:
            await waiter.wake.wait()
            waiter.wake.clear()
            if self.error is not None:
                raise FeedUnavailable(f"{type(self.error).__name__}: {self.error}")
            changed = []
            for run_id in waiter.run_ids:
                run = self.runs.get(run_id)
                if run is not None and waiter.seen.get(run_id) is not run:
                    waiter.seen[run_id] = run
                    changed.append(run)
            if waiter in self._uncovered:
                if len(waiter.seen) == len(waiter.run_ids):
                    self._uncovered.discard(waiter)
                elif self.generation > waiter.joined_at:
                    missing = sorted(waiter.run_ids - waiter.seen.keys())
                    raise FeedNotCovering(f"runs not in the {self.key[1]} feed: {', '.join(missing)}")
            if changed:
                return changed


class FeedRegistry:
    """The shared feeds of each event loop, keyed by (credentials, feed kind, tag / batch / run id)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[FeedKey, SharedFeed]] = (
            weakref.WeakKeyDictionary()
        )

    def _feeds(self) -> dict[FeedKey, SharedFeed]:
        loop = asyncio.get_running_loop()
        feeds = self._by_loop.get(loop)
        if feeds is None:
            feeds = self._by_loop[loop] = {}
        return feeds

    def feeds(self) -> list[SharedFeed]:
        """The running loop's open feeds (for tests and benchmarks)."""
        return list(self._feeds().values())

    def forget(self, feed: SharedFeed) -> None:
        feeds = self._feeds()
        if feeds.get(feed.key) is feed:
            del feeds[feed.key]

    @asynccontextmanager
    async def watch(
        self,
        client: AsyncTriggerClient,
        credentials: Any,
        kind: FeedKind,
        target: str,
        run_ids: Collection[str],
    ) -> AsyncIterator[Watch]:
        """Register ``run_ids`` on the shared feed; ``await watch.next()`` gives their changed states."""
        feeds = self._feeds()
        key: FeedKey = (credentials, kind, target)
        feed = feeds.get(key)
        if feed is None:
            if sum(1 for k in feeds if k[0] == credentials) >= MAX_FEEDS:
                raise FeedUnavailable(f"{MAX_FEEDS} realtime feeds already open for these credentials")
            feed = feeds[key] = SharedFeed(self, key, client)
        waiter = feed.add(run_ids)
        try:
            yield Watch(feed, waiter)
        finally:
            feed.remove(waiter)


@dataclass
class Watch:
    feed: SharedFeed
    waiter: _Waiter

    async def next(self) -> list[Run]:
        return await self.feed.next_changes(self.waiter)


shared_feeds = FeedRegistry()
"""The process-wide registry the deferrable triggers use."""


async def follow_feeds(
    client: AsyncTriggerClient,
    credentials: Any,
    feeds: Sequence[tuple[FeedKind, str]],
    run_ids: Collection[str],
    decide: Callable[[Run], bool],
    *,
    log: Any,
    what: str,
) -> bool:
    """Hand every change of ``run_ids`` to ``decide`` until it returns True (then True).

    ``feeds`` are tried in order (e.g. the DAG run's tag feed, then the run's own feed) while a feed
    does not cover the runs. False means "poll instead"; the reason is logged once.
    """
    if reason := realtime_blocker(client):
        log_fallback(log, what, reason)
        return False
    reason = "no realtime feed to follow"
    for kind, target in feeds:
        try:
            async with shared_feeds.watch(client, credentials, kind, target, run_ids) as watch:
                while True:
                    for run in await watch.next():
                        if decide(run):
                            return True
        except FeedNotCovering as exc:
            reason = str(exc)
        except FeedUnavailable as exc:
            reason = str(exc)
            break
    log_fallback(log, what, reason)
    return False
