"""What an error means for a wait, decided once for REST reads, realtime feeds and the run watcher.

**Transient** (5xx, 408, 409, 429 with its reset, connection errors, a run not yet visible — the
client's own retry table, ``should_retry``) is waited out with backoff until the wait's own deadline:
one log line when an incident starts, one when it ends. **Permanent** (401/403, a deleted run, bad
input, a misconfigured connection) ends the wait at once with :class:`TriggerWaitError`.

In the triggerer every wait of one set of credentials shares an :class:`IncidentGate`: while the
API is down, one wait probes it per backoff step and the others wait for the verdict, so 1,000 waits
cost about one request per step during an incident instead of 1,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable
from typing import Any

from airflow_provider_trigger.client import (
    ApiError,
    NotFoundError,
    RateLimitError,
    RequestOptions,
    RetryOptions,
)
from airflow_provider_trigger.client._retry import should_retry
from airflow_provider_trigger.exceptions import TriggerWaitError

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
NOT_VISIBLE_GRACE = 30.0
"""Seconds a run may answer 404 before the wait gives up on it. The API marks every run 404 retryable
(a run is briefly invisible after it is created); one that stays missing is gone or mistyped."""
READ_REQUEST = RequestOptions(retry=RetryOptions(max_attempts=1), timeout=30.0)
"""Status reads inside a wait: one attempt; the wait's incident handling retries (and in the triggerer
the first failure closes the gate for every other wait at once)."""
MAX_PROBE_INTERVAL = 2.0
"""While the API is down, the triggerer's gate probes at least this often (one request for the whole
process), so the end of an incident is noticed within about 2 s."""


def is_transient(exc: BaseException) -> bool:
    """True when the error is worth waiting out: the same table the client's own retries use."""
    return should_retry(exc)


def is_outage(exc: BaseException) -> bool:
    """A transient error that says the API itself is in trouble (not one run missing)."""
    return is_transient(exc) and not isinstance(exc, NotFoundError)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError) and exc.status is not None:
        return f"{type(exc).__name__} ({exc.status}): {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def retry_after(exc: BaseException) -> float | None:
    """Seconds until a 429's rate limit resets, when the server said."""
    return exc.seconds_until_reset if isinstance(exc, RateLimitError) else None


def backoff(failures: int, exc: BaseException, cap: float) -> float:
    """Seconds before the next read after ``failures`` failed ones: 1, 2, 4 … capped at ``cap`` (the
    wait's poll interval, so an incident never reads more often than polling would), but never before
    a 429's rate limit resets."""
    delay = min(MAX_DELAY, cap, FIRST_DELAY * 2 ** max(0, failures - 1))
    return max(delay, retry_after(exc) or 0.0)


class Incident:
    """One wait's view of API trouble: permanent errors end it, and one log line marks the start and
    the end of each incident."""

    def __init__(self, what: str, log: Any, *, now: Callable[[], float] = time.time) -> None:
        self.what = what
        self.log = log
        self.now = now
        self.started: float | None = None
        self.failures = 0
        self.incidents = 0
        self.missing_since: float | None = None

    @property
    def open(self) -> bool:
        return self.started is not None

    def failed(self, exc: BaseException, cap: float) -> float:
        """The delay before trying again; raises :class:`TriggerWaitError` for a permanent error."""
        if not is_transient(exc):
            raise TriggerWaitError(f"Waiting for {self.what} failed: {describe(exc)}") from exc
        if isinstance(exc, NotFoundError):
            now = self.now()
            self.missing_since = self.missing_since or now
            if now - self.missing_since >= NOT_VISIBLE_GRACE:
                raise TriggerWaitError(
                    f"Waiting for {self.what} failed: the run was not found for {NOT_VISIBLE_GRACE:g}s "
                    f"(404); check the run id, and that the connection uses the run's environment."
                ) from exc
        self.failures += 1
        if self.started is None:
            self.started = self.now()
            self.incidents += 1
            self.log.warning(
                "Trigger.dev API unavailable while waiting for %s (%s); the runs are unaffected, waiting "
                "it out until the wait's deadline.",
                self.what,
                describe(exc),
            )
        return backoff(self.failures, exc, cap)

    def recovered(self) -> None:
        self.missing_since = None
        if self.started is None:
            return
        self.log.info(
            "Trigger.dev API reachable again after %.0fs (%d failed reads); waiting for %s goes on.",
            self.now() - self.started,
            self.failures,
            self.what,
        )
        self.started = None
        self.failures = 0


PROBE = "probe"
FREE = "free"


class IncidentGate:
    """Shared by the waits of one event loop and credentials: while an incident is open, one wait at a
    time probes the API when the backoff allows; the others sleep until it succeeds or their deadline."""

    def __init__(self) -> None:
        self.open = False
        self.next_probe = 0.0
        self.failures = 0
        self._closed = asyncio.Event()
        self._closed.set()
        self._probing = False

    async def enter(self, deadline: float | None) -> str | None:
        """:data:`FREE` (no incident) or :data:`PROBE` (this wait probes); ``None`` when the deadline
        came first. Pass the token to :meth:`succeeded` or :meth:`failed`."""
        while self.open:
            now = time.time()
            if deadline is not None and now >= deadline:
                return None
            wait = self.next_probe - now
            if wait <= 0 and not self._probing:
                self._probing = True
                return PROBE
            timeout = wait if wait > 0 else 0.5  # a probe is in flight: recheck now and then
            if deadline is not None:
                timeout = min(timeout, deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), timeout=max(timeout, 0.01))
        return FREE

    def release(self, token: str | None) -> None:
        if token == PROBE:
            self._probing = False

    def succeeded(self, token: str | None) -> None:
        self.release(token)
        if self.open:
            self.open = False
            self.failures = 0
            self._closed.set()

    def failed(self, token: str | None, exc: BaseException, cap: float) -> None:
        self.release(token)
        if not is_outage(exc):
            return
        if not self.open:
            self.open = True
            self._closed.clear()
        self.failures += 1
        self.next_probe = time.time() + backoff(self.failures, exc, min(cap, MAX_PROBE_INTERVAL))


class _Gates:
    """One :class:`IncidentGate` per (event loop, credentials)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, IncidentGate]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, credentials: Any) -> IncidentGate:
        loop = asyncio.get_running_loop()
        gates = self._by_loop.setdefault(loop, {})
        gate = gates.get(credentials)
        if gate is None:
            gate = gates[credentials] = IncidentGate()
        return gate


incident_gates = _Gates()
