"""Fault injection and the optional global token-bucket rate limiter.

``emu.faults.inject(method="POST", path="/api/v1/tasks/*/trigger", kind=503, count=2)`` makes the
next two matching requests answer 503. Kinds:

- an HTTP status (500, 503, 408, 409, 429, …) answered *instead of* the route (nothing is applied);
  429 carries ``x-ratelimit-*`` headers whose reset is ``reset_after`` seconds ahead (epoch ms);
- ``"drop_before"``: the connection is closed before the request is applied (no response);
- ``"drop_after"``: the request IS applied, then the connection is closed without a response;
- ``"must_refetch"`` (realtime routes): 409 ``[{"headers":{"control":"must-refetch"}}]`` with a new
  ``electric-handle`` (``<old handle>-next``), as Electric answers on shape rotation.

``emu.faults.inject_random(rate=0.2, kinds=[500, 503, "drop_before", "drop_after"], seed=7)`` picks a
fault for a fraction of matching requests with a seeded RNG (for reliability benchmarks).
``path`` is a glob (``*`` matches across ``/``); ``method=None`` matches any method.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DROP_BEFORE = "drop_before"
DROP_AFTER = "drop_after"
MUST_REFETCH = "must_refetch"
_BODIES = {
    408: "Request Timeout",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _normalise_kind(kind: int | str) -> int | str:
    if isinstance(kind, int):
        return kind
    if kind in (DROP_BEFORE, DROP_AFTER, MUST_REFETCH):
        return kind
    if kind.isdigit():
        return int(kind)
    raise ValueError(f"unknown fault kind {kind!r}: use an HTTP status, 'drop_before' or 'drop_after'")


@dataclass
class Fault:
    """One injected fault rule."""

    kind: int | str
    method: str | None = None
    path: str = "*"
    count: int | None = 1  # None = unlimited
    skip: int = 0  # let this many matching requests through first
    reset_after: float = 1.0  # seconds, for 429
    body: Any = None
    rate: float | None = None
    kinds: list[int | str] = field(default_factory=list)
    rng: random.Random | None = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class FiredFault:
    method: str
    path: str
    kind: int | str


@dataclass(frozen=True)
class Decision:
    """What the middleware must do with one request."""

    kind: int | str
    reset_after: float = 1.0
    body: Any = None


class FaultInjector:
    """Thread-safe registry of fault rules; the app's middleware asks :meth:`take` per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.fired: list[FiredFault] = []

    def inject(
        self,
        method: str | None = None,
        path: str = "*",
        kind: int | str = 500,
        count: int | None = 1,
        *,
        skip: int = 0,
        reset_after: float = 1.0,
        body: Any = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``kind`` (after letting ``skip`` pass)."""
        fault = Fault(_normalise_kind(kind), method, path, count, skip, reset_after, body)
        with self._lock:
            self._rules.append(fault)
        return fault

    def inject_random(
        self,
        rate: float,
        kinds: list[int | str] | None = None,
        *,
        seed: int = 0,
        method: str | None = None,
        path: str = "*",
        reset_after: float = 1.0,
    ) -> Fault:
        """Fail a ``rate`` fraction of matching requests, choosing among ``kinds`` with a seeded RNG."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        chosen = [_normalise_kind(k) for k in (kinds or [500, 503, DROP_BEFORE, DROP_AFTER])]
        fault = Fault(
            chosen[0], method, path, None, 0, reset_after, rate=rate, kinds=chosen, rng=random.Random(seed)
        )
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.fired.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._rules if f.count is None or f.fired < f.count]

    def take(self, method: str, path: str) -> Decision | None:
        """The fault to apply to this request, if any (consumes one use of the rule)."""
        with self._lock:
            for fault in self._rules:
                if not fault.matches(method, path):
                    continue
                if fault.rate is not None and fault.rng is not None:
                    if fault.rng.random() >= fault.rate:
                        continue
                    kind = fault.rng.choice(fault.kinds)
                else:
                    if fault.count is not None and fault.fired >= fault.count:
                        continue
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    kind = fault.kind
                fault.fired += 1
                self.fired.append(FiredFault(method, path, kind))
                return Decision(kind, fault.reset_after, fault.body)
        return None


def status_body(status: int) -> dict[str, Any]:
    return {"error": _BODIES.get(status, "Injected fault")}


@dataclass
class RateLimit:
    """Token bucket: ``burst`` tokens, ``refill`` tokens added every ``interval`` seconds."""

    burst: int = 750
    refill: int = 250
    interval: float = 10.0


class RateLimiter:
    """A token-bucket limiter per key: the global ``/api`` one (per environment) and the batch one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (tokens, last refill time)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def take(self, limit: RateLimit, token: str, cost: int = 1) -> tuple[bool, int, int, int]:
        """Consume ``cost`` tokens: (allowed, limit, remaining, reset epoch ms)."""
        now = time.time()
        with self._lock:
            tokens, last = self._buckets.get(token, (float(limit.burst), now))
            intervals = int((now - last) / limit.interval)
            if intervals:
                tokens = min(float(limit.burst), tokens + intervals * limit.refill)
                last += intervals * limit.interval
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            self._buckets[token] = (tokens, last)
            reset_ms = int((last + limit.interval) * 1000)
            return allowed, limit.burst, max(0, int(tokens)), reset_ms


def rate_limited_body(limit: int, remaining: int, reset_ms: int) -> dict[str, Any]:
    seconds = max(0.0, (reset_ms - time.time() * 1000) / 1000)
    detail = f"Rate limit exceeded {remaining}/{limit} requests remaining. Retry in {seconds} seconds."
    return {
        "title": "Rate Limit Exceeded",
        "status": 429,
        "type": "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/429",
        "detail": detail,
        "reset": reset_ms,
        "limit": limit,
        "remaining": remaining,
        "secondsUntilReset": seconds,
        "error": detail,
    }
