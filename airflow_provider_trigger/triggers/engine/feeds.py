"""Shared realtime feeds for the triggerer: however many deferred waits, one long-poll request.

Every wait registers its run ids with the process-wide feed for its (event loop, credentials, feed).
Runs this provider starts for a deferred realtime wait carry :data:`~.realtime.FEED_TAG`, so one feed
of that tag per process and credentials serves every such wait of every DAG run: the environment's
realtime connections grow with triggerer processes, not with waits or DAG runs. The feed asks only for
runs created within a window (``createdAt``, :data:`FEED_WINDOW`, re-opened narrower after
:data:`ROTATE_AFTER` from the oldest run still waited for) and skips the columns no wait reads
(:data:`SKIP_COLUMNS`); rows of runs nobody in this process waits for are kept slim (a status, no
output), enough for a wait that registers later to start from. Older triggers
(serialized with a per-DAG-run ``airflow:<hash>`` tag), batch and single-run feeds still work, but
only while the process's one slot is free (the shared tag feed takes it from them).
One background task per feed follows the realtime protocol and wakes exactly the waits whose runs
changed. The feed is an optimisation, never a correctness dependency:

- a feed that fails (429 slots exhausted, repeated errors, a 4xx) raises :class:`FeedUnavailable`
  in every wait, which then polls the REST API instead;
- a run the feed does not cover (e.g. created before the tag feed's window) raises
  :class:`FeedNotCovering` after the feed has answered twice without it;
- a cancelled wait unregisters; the last one out stops the feed;
- at most :data:`MAX_FEEDS` feeds per credentials are open (one live request each); more waits poll
  (under the process's request budget, :mod:`.budget`).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from airflow_provider_trigger.client import AsyncTriggerClient, RealtimeBackoff, Run
from airflow_provider_trigger.triggers.engine.realtime import FEED_TAG, log_fallback, realtime_blocker

FeedKind = Literal["tag", "batch", "run"]
FeedKey = tuple[Any, FeedKind, str]
FEED_BACKOFF = RealtimeBackoff(max_errors=4)
"""A shared feed gives up after 4 consecutive failures (about 0.5 s of backoff): waits then poll."""
SKIP_COLUMNS = ("payload", "payloadType", "metadata", "metadataType", "realtimeStreams")
"""Columns no wait reads (the output is kept: a run's output in the feed saves the task a request)."""
MAX_FEEDS = 1
"""Open feeds per credentials and loop: each holds one live request, and the environment's plan allows
few (10 on Free, 50 on Hobby); waits beyond this poll. The shared tag feed (:data:`FEED_TAG`) always
gets the slot: an older trigger's feed holding it is closed and its waits poll."""
FEED_WINDOW = 3600.0
"""Seconds of runs (by ``createdAt``) the shared tag feed asks for when it opens: its initial sync
holds only them. A wait on an older run is not covered and polls."""
ROTATE_AFTER = 3600.0
"""Seconds after which the shared tag feed re-opens with a window from the oldest run still waited
for, so neither the server's shape nor this process's state grows with the feed's age."""
MAX_WINDOW = 86400.0
"""The server clamps ``createdAt`` to one day."""

SHARED_LIVE_INTERVAL = 0.8
"""Seconds between two live requests of a tag or batch feed: a busy feed of 1,000 runs then costs
about one request per 0.8 s instead of one per change, and a change waits at most that long."""


class FeedUnavailable(Exception):
    """The shared feed stopped (its error is the message); the wait should poll instead."""


class FeedNotCovering(Exception):
    """The feed answered without this run: it is not in the feed (tag missing, outside the window)."""


class _Wake:
    """A one-waiter ``asyncio.Event`` without its per-instance deque (10,000 waits hold one each)."""

    __slots__ = ("_flag", "_future")

    def __init__(self) -> None:
        self._flag = False
        self._future: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._flag = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> None:
        if self._flag:
            return
        self._future = asyncio.get_running_loop().create_future()
        try:
            await self._future
        finally:
            self._future = None


@dataclass(eq=False)
class _Waiter:
    run_ids: frozenset[str]
    joined_at: int
    wake: _Wake = field(default_factory=_Wake)
    seen: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """Run id → (updatedAt, status) of the state last handed to this wait."""


class SharedFeed:
    """One realtime feed and the waits registered on it (all on one event loop)."""

    def __init__(self, registry: FeedRegistry, key: FeedKey, client: AsyncTriggerClient) -> None:
        self.registry = registry
        self.key = key
        self.client = client
        self.runs: dict[str, Run] = {}
        """Latest state of each run a wait here is registered for."""
        self._feed: Any = None
        self.generation = 0
        self.window: float | None = None
        """Seconds of ``createdAt`` the open feed covers (the shared tag feed only)."""
        self.opened_at = 0.0
        self.error: BaseException | None = None
        self._by_run: dict[str, set[_Waiter]] = {}
        self._uncovered: set[_Waiter] = set()
        self.requests = 0
        self._counted = 0
        self._task = asyncio.get_running_loop().create_task(self._follow(), name=f"trigger-feed-{key[1]}")

    # -- the feed -------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """The process's one feed of every provider run (:data:`FEED_TAG`)."""
        return self.key[1] == "tag" and self.key[2] == FEED_TAG

    def _window(self) -> float:
        """``createdAt`` seconds for the next open: :data:`FEED_WINDOW`, or on a rotation the age of
        the oldest run still waited for plus two minutes (whole minutes, at most a day)."""
        if self.window is None or self._feed is None:
            return FEED_WINDOW
        state = self._feed.state
        created = [
            row["createdAt"]
            for run_id in self._by_run
            if (row := state.rows.get(state.ids.get(run_id, "")))
            and isinstance(row.get("createdAt"), datetime)
        ]
        if not created:
            return FEED_WINDOW
        age = time.time() - min(created).timestamp()
        return min(MAX_WINDOW, max(300.0, math.ceil((age + 120) / 60) * 60))

    def _open(self) -> Any:
        _, kind, target = self.key
        runs = self.client.runs
        interval = SHARED_LIVE_INTERVAL
        if kind == "tag":
            created_at = None
            if self.shared:
                self.window = self._window()
                created_at = f"{int(self.window // 60)}m"
            feed = runs.subscribe_to_runs_with_tag(
                target,
                created_at=created_at,
                skip_columns=SKIP_COLUMNS,
                backoff=FEED_BACKOFF,
                min_live_interval=interval,
            )
            feed.state.keep_rows = self._watched
            return feed
        if kind == "batch":
            return runs.subscribe_to_batch(
                target, skip_columns=SKIP_COLUMNS, backoff=FEED_BACKOFF, min_live_interval=interval
            )
        return runs.subscribe_to_run(
            target, skip_columns=SKIP_COLUMNS, stop_on_completion=False, backoff=FEED_BACKOFF
        )

    def _watched(self, run_id: str) -> bool:
        return run_id in self._by_run

    def _take(self, run: Run) -> None:
        if run.id in self._by_run:
            self.runs[run.id] = run
            for waiter in self._by_run[run.id]:
                waiter.wake.set()

    async def _follow(self) -> None:
        feed = None
        try:
            while True:
                feed = self._feed = self._open()
                self.opened_at = time.monotonic()
                async for batch in feed.batches():
                    self.requests += feed.requests - self._counted
                    self._counted = feed.requests
                    self.generation += 1
                    for run in batch:
                        self._take(run)
                    for waiter in self._uncovered:
                        waiter.wake.set()
                    if self.shared and time.monotonic() - self.opened_at >= ROTATE_AFTER:
                        break  # re-open with a window from the runs still waited for
                else:
                    raise FeedUnavailable("the realtime feed ended")
                self._counted = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """Stop the feed; every wait on it gets :class:`FeedUnavailable` (and polls)."""
        self.error = exc
        self.registry.forget(self)
        for waiter in {w for waiters in self._by_run.values() for w in waiters}:
            waiter.wake.set()
        if self._task is not asyncio.current_task():
            self._task.cancel()

    # -- waits ----------------------------------------------------------------------------------

    def add(self, run_ids: Collection[str]) -> _Waiter:
        # an up-to-date feed may have a response in flight computed before these runs existed
        joined = self.generation + (1 if self.generation else 0)
        waiter = _Waiter(frozenset(run_ids), joined)
        for run_id in waiter.run_ids:
            self._by_run.setdefault(run_id, set()).add(waiter)
            known = None if run_id in self.runs or self._feed is None else self._feed.state.run_of(run_id)
            if known is not None:  # the run passed through the feed before this wait registered
                self.runs[run_id] = known
        self._uncovered.add(waiter)
        waiter.wake.set()  # look at what the feed already knows
        return waiter

    def remove(self, waiter: _Waiter) -> None:
        for run_id in waiter.run_ids:
            waiters = self._by_run.get(run_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:  # the feed's row stays, for a later wait on the run
                    del self._by_run[run_id]
                    self.runs.pop(run_id, None)
        self._uncovered.discard(waiter)
        if not self._by_run:
            self.close()

    def close(self) -> None:
        self.registry.forget(self)
        self._task.cancel()

    async def next_changes(self, waiter: _Waiter) -> list[Run]:
        """Wait until some of the waiter's runs changed; those runs (latest state each).

        A state every waiter of its run has seen is dropped (the feed's row keeps it), so a quiet wait
        holds a marker, not a run object."""
        while True:
            await waiter.wake.wait()
            waiter.wake.clear()
            if self.error is not None:
                raise FeedUnavailable(f"{type(self.error).__name__}: {self.error}")
            changed = []
            for run_id in waiter.run_ids:
                run = self.runs.get(run_id)
                if run is None:
                    continue
                marker = (run.updated_at, str(run.status))
                if waiter.seen.get(run_id) != marker:
                    waiter.seen[run_id] = marker
                    changed.append(run)
                if all(w.seen.get(run_id) == marker for w in self._by_run.get(run_id, ())):
                    del self.runs[run_id]
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
            mine = [f for k, f in feeds.items() if k[0] == credentials]
            if kind == "tag" and target == FEED_TAG:  # the shared feed takes the slot from older ones
                for other in mine:
                    other.fail(FeedUnavailable("the process's shared feed of every run took its slot"))
            elif len(mine) >= MAX_FEEDS:
                raise FeedUnavailable(f"{MAX_FEEDS} realtime feed(s) already open for these credentials")
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
                while True:  # (a generator: no run object stays referenced while the wait sleeps)
                    if any(decide(run) for run in await watch.next()):
                        return True
        except FeedNotCovering as exc:
            reason = str(exc)
        except FeedUnavailable as exc:
            reason = str(exc)
            break
    log_fallback(log, what, reason)
    return False
