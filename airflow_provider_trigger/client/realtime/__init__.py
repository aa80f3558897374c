"""Realtime run feeds: ``runs.subscribe_to_run``, ``subscribe_to_runs_with_tag``, ``subscribe_to_batch``.

>>> for run in client.runs.subscribe_to_run("run_123"):          # ends when the run is finished
...     print(run.status)
>>> async for run in async_client.runs.subscribe_to_runs_with_tag("order-42"):  # never ends by itself
...     ...

Each feed follows the Electric shape long-poll protocol (``_protocol.FeedState``) over the client's
own transport. Offloaded payload/output columns (``application/store``) are fetched through
``GET /api/v1/packets/{path}`` and the presigned URL (``client.packets``). 429, 5xx and network
errors are retried with the SDK's backoff (using the client's injectable ``sleep``); other 4xx
raise the client's typed errors; a 409 restarts the feed. A personal access token cannot read
realtime feeds: ``TriggerClientError`` before anything is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, overload

from airflow_provider_trigger.client._executor import (
    Async,
    AsyncExecutor,
    AsyncRaw,
    Resource,
    Sync,
    SyncRaw,
)
from airflow_provider_trigger.client._keys import KeyKind
from airflow_provider_trigger.client._transport import AsyncTransport, SyncTransport
from airflow_provider_trigger.client.errors import (
    ApiConnectionError,
    ApiError,
    ConflictError,
    TriggerClientError,
)
from airflow_provider_trigger.client.models import Run
from airflow_provider_trigger.client.packets import aresolve_row_run, resolve_row_run, stored_paths
from airflow_provider_trigger.client.realtime._protocol import (
    DEFAULT_READ_TIMEOUT,
    ELECTRIC_VERSION,
    PAT_HINT,
    FeedState,
    RealtimeBackoff,
)
from airflow_provider_trigger.client.realtime._rows import (
    STATUS_MAP,
    output_in_feed,
    parse_array,
    parse_timestamp,
    row_to_run,
)

P = ParamSpec("P")
OFF_LOOP_MESSAGES = 50
"""An async feed applies a response of more messages than this (a snapshot: up to one row per run of a
tag or batch) in a worker thread: decoding 1,000 rows into runs takes ~0.1 s of CPU, enough for Airflow's
triggerer to report its loop blocked and to hold up every other trigger. Live updates stay on the loop."""

__all__ = [
    "DEFAULT_READ_TIMEOUT",
    "ELECTRIC_VERSION",
    "STATUS_MAP",
    "AsyncRunFeed",
    "FeedState",
    "RealtimeBackoff",
    "RunFeed",
    "is_retryable",
    "output_in_feed",
    "parse_array",
    "parse_timestamp",
    "row_to_run",
    "subscription",
]


def is_retryable(exc: BaseException) -> bool:
    """Network errors, 429 and 5xx are retried (and a 404 the server marks ``x-should-retry: true``)."""
    if isinstance(exc, ApiConnectionError):
        return True
    if not isinstance(exc, ApiError) or exc.status is None:
        return False
    return exc.status == 429 or exc.status >= 500 or exc.headers.get("x-should-retry") == "true"


class _FeedBase:
    def __init__(self, state: FeedState) -> None:
        self.state = state
        self.backoff = state.backoff
        self.failures = 0
        self.requests = 0
        self.packets: dict[tuple[str, str], Any] = {}  # (run id, store path) -> resolved value
        self.resolve_packets = True
        """Fetch offloaded payload/output columns; off, such runs keep ``output_in_feed(run) == False``."""

    def _timeout(self, until: float | None) -> float | None:
        """Seconds left before ``until`` (a ``time.monotonic()`` deadline), at least a little."""
        return None if until is None else max(until - time.monotonic(), 0.001)

    def _pace(self) -> float:
        """Seconds to wait before the next request so live requests start ``min_live_interval`` apart."""
        state = self.state
        if not state.up_to_date:
            return 0.0
        now = time.monotonic()
        wait = 0.0
        if state.min_live_interval > 0 and state.last_live_start is not None:
            wait = max(0.0, state.last_live_start + state.min_live_interval - now)
        state.last_live_start = now + wait
        return wait

    def _failed(self, exc: ApiError) -> float:
        """Count a failure; the delay before the next attempt, or re-raise when it may not be retried."""
        if isinstance(exc, ConflictError):  # must-refetch
            body = exc.body if isinstance(exc.body, list) else []
            if any(isinstance(m, dict) and m.get("headers", {}).get("control") for m in body) or (
                "electric-handle" in exc.headers
            ):
                self.state.must_refetch(exc.headers.get("electric-handle"))
                return 0.0
        if not is_retryable(exc):
            raise exc
        self.failures += 1
        if self.backoff.max_errors is not None and self.failures >= self.backoff.max_errors:
            raise exc
        return self.backoff.delay(self.failures)


class RunFeed(_FeedBase):
    """A synchronous realtime feed. Iterate it for runs, or ``batches()`` for one list per response."""

    def __init__(self, transport: SyncTransport, state: FeedState) -> None:
        super().__init__(state)
        self._transport = transport

    def batches(self, *, until: float | None = None) -> Iterator[list[Run]]:
        """One list of changed runs per up-to-date response (possibly empty), until the feed ends
        or the ``time.monotonic()`` deadline ``until`` passes (no request outlives it)."""
        sleep = self._transport.config.sleep
        while not self.state.finished:
            if until is not None and time.monotonic() >= until:
                return
            if pause := self._pace():
                sleep(pause)
            self.requests += 1
            try:
                response = self._transport.send(self.state.request(self._timeout(until)))
            except ApiError as exc:
                if until is not None and time.monotonic() >= until:
                    return
                delay = self._failed(exc)
                if delay:
                    sleep(delay)
                continue
            self.failures = 0
            changed = self.state.apply(response.status_code, response.headers, response.parsed)
            if self.state.up_to_date:
                yield [
                    resolve_row_run(self._transport, r, self.packets)
                    if self.resolve_packets and stored_paths(r)
                    else r
                    for r in changed
                ]

    def __iter__(self) -> Iterator[Run]:
        for batch in self.batches():
            yield from batch


class AsyncRunFeed(_FeedBase):
    """An asynchronous realtime feed: ``async for run in feed`` or ``async for batch in feed.batches()``."""

    def __init__(self, transport: AsyncTransport, state: FeedState) -> None:
        super().__init__(state)
        self._transport = transport

    async def batches(self, *, until: float | None = None) -> AsyncIterator[list[Run]]:
        sleep = self._transport.config.async_sleep
        while not self.state.finished:
            if until is not None and time.monotonic() >= until:
                return
            if pause := self._pace():
                await sleep(pause)
            self.requests += 1
            try:
                response = await self._transport.send(self.state.request(self._timeout(until)))
            except ApiError as exc:
                if until is not None and time.monotonic() >= until:
                    return
                delay = self._failed(exc)
                if delay:
                    await sleep(delay)
                continue
            self.failures = 0
            body = response.parsed
            if isinstance(body, list) and len(body) > OFF_LOOP_MESSAGES:
                # a snapshot of many runs: decode its rows off the event loop (see OFF_LOOP_MESSAGES)
                changed = await asyncio.to_thread(
                    self.state.apply, response.status_code, response.headers, body
                )
            else:
                changed = self.state.apply(response.status_code, response.headers, body)
            if self.state.up_to_date:
                yield [
                    await aresolve_row_run(self._transport, r, self.packets)
                    if self.resolve_packets and stored_paths(r)
                    else r
                    for r in changed
                ]

    async def __aiter__(self) -> AsyncIterator[Run]:
        async for batch in self.batches():
            for run in batch:
                yield run


class subscription(Generic[P]):
    """Decorates a ``Runs`` method returning a ``FeedState``: a ``RunFeed`` on the sync client, an
    ``AsyncRunFeed`` on the async one. A PAT is refused here, before any request."""

    def __init__(self, build: Callable[Concatenate[Any, P], FeedState]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> subscription[P]: ...
    @overload
    def __get__(self, obj: Resource[Sync] | Resource[SyncRaw], owner: type) -> Callable[P, RunFeed]: ...
    @overload
    def __get__(
        self, obj: Resource[Async] | Resource[AsyncRaw], owner: type
    ) -> Callable[P, AsyncRunFeed]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type) -> Any:
        if obj is None:
            return self
        build = self._build
        executor = obj._executor

        def bound(*args: Any, **kwargs: Any) -> RunFeed | AsyncRunFeed:
            state = build(obj, *args, **kwargs)
            if executor.transport.config.kind is KeyKind.PAT:
                raise TriggerClientError(f"{state.path}: {PAT_HINT}")
            if isinstance(executor, AsyncExecutor):
                return AsyncRunFeed(executor.transport, state)
            return RunFeed(executor.transport, state)

        bound.__doc__ = build.__doc__
        return bound
