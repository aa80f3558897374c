"""The triggerer's request budget: every poll and fallback read of one set of credentials shares it.

Trigger.dev meters each environment's REST API (a 750 burst refilling 25 per second, shared by
everything that uses the environment). A triggerer holding thousands of waits that polled on their own
would spend all of it; instead every status read of a wait takes a slot from a :class:`RequestBudget`
shared per (event loop, credentials): a token bucket of ``rate`` requests per second (default
:data:`DEFAULT_RATE`, a tenth of the environment's budget) handing out slots first come, first served.
When the waits want more than the budget, each poll simply comes later: poll intervals stretch
together, and the log says so once. A 429 (the environment's limit, spent by someone else too) moves
every slot past the reset the server gave in ``x-ratelimit-reset``.

This is not the :class:`~.incidents.IncidentGate`: the gate decides *whether* the API is worth asking
(an outage: one probe at a time), the budget *how often* anyone asks (rate). A 429 is a rate signal,
so it goes to the budget, never to the gate.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from airflow_provider_trigger.client import RateLimitError, RequestOptions, RetryOptions

DEFAULT_RATE = 2.5
"""Requests per second per triggerer process and credentials: a tenth of production's 25/s refill."""
MAX_PAUSE = 60.0
"""Longest a 429 pauses the budget when its reset time is missing or absurd (seconds)."""
BUDGETED_READ = RequestOptions(retry=RetryOptions(max_attempts=1), timeout=30.0)
"""A status read under the budget: no retry of its own (a retried 429 would skip the queue; the
engine's incident handling rides out errors and the budget honours 429s)."""
STRETCH_NOTICE = 1.0
"""A slot more than this many seconds away means the waits want more than the budget: log it once."""


class RequestBudget:
    """A token bucket of ``rate`` requests per second (``burst`` at once), fair in arrival order.

    Every :meth:`take` reserves the next free slot (virtual scheduling), so waiting costs one sleep
    and no background task; 10,000 waits asking at once get slots 1/rate apart, in order.
    """

    def __init__(self, rate: float = DEFAULT_RATE, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"the request budget must be > 0 requests per second, got {rate:g}")
        self.rate = float(rate)
        self.burst = max(1.0, float(burst) if burst is not None else self.rate * 4)
        self._next = 0.0  # monotonic time of the next free slot, before the burst allowance
        self.taken = 0
        self.throttled = 0
        self.stretched = False
        self.paused_until = 0.0
        self.waits = 0
        """Waits currently polling under this budget (for the stretch notice)."""

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def reserve(self, now: float | None = None) -> float:
        """Reserve one slot; the ``time.monotonic()`` time it starts (``<= now`` means at once)."""
        now = time.monotonic() if now is None else now
        earliest = max(now - (self.burst - 1) * self.interval, self.paused_until)
        slot = max(self._next, earliest)
        self._next = slot + self.interval
        self.taken += 1
        return slot

    def backlog(self, now: float | None = None) -> float:
        """Seconds until a slot reserved now would start."""
        now = time.monotonic() if now is None else now
        return max(0.0, max(self._next, self.paused_until) - now - (self.burst - 1) * self.interval)

    async def take(self, deadline: float | None = None, *, log: Any = None) -> bool:
        """Wait for a slot; False (no slot taken) when the epoch ``deadline`` comes first.

        The first time slots run more than :data:`STRETCH_NOTICE` behind, ``log`` gets one warning.
        """
        now = time.monotonic()
        slot = self.reserve(now)
        delay = slot - now
        if delay > STRETCH_NOTICE and not self.stretched and log is not None:
            self.stretched = True
            log.warning(
                "Polling Trigger.dev for %s waits needs more than this triggerer's budget of %g "
                "requests/s for these credentials; polls are spaced out (next slot in %.0fs) instead of "
                "spending the environment's rate limit. Raise [trigger] poll_budget or the connection's "
                '"poll_budget" extra to poll faster.',
                self.waits or "many",
                self.rate,
                delay,
            )
        if deadline is not None and time.time() + delay > deadline:
            await asyncio.sleep(max(0.0, deadline - time.time()))
            return False
        if delay > 0:
            await asyncio.sleep(delay)
        return True

    def rate_limited(self, exc: BaseException) -> bool:
        """A 429: no slot starts before the server's reset. True when ``exc`` was one."""
        if not isinstance(exc, RateLimitError):
            return False
        self.throttled += 1
        wait = exc.seconds_until_reset
        wait = self.interval if wait is None or wait < 0 else min(wait, MAX_PAUSE)
        self.paused_until = max(self.paused_until, time.monotonic() + wait)
        return True


class _Budgets:
    """One :class:`RequestBudget` per (event loop, credentials)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, RequestBudget]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, credentials: Any, rate: float | None = None) -> RequestBudget:
        """The running loop's budget for ``credentials``; the first caller's ``rate`` sets it."""
        budgets = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        budget = budgets.get(credentials)
        if budget is None:
            budget = budgets[credentials] = RequestBudget(rate or configured_rate())
        return budget


def configured_rate() -> float:
    """``[trigger] poll_budget`` from the Airflow configuration, else :data:`DEFAULT_RATE`."""
    try:
        from airflow.providers.common.compat.sdk import conf
    except ImportError:  # pragma: no cover - Airflow is a dependency of the triggers
        return DEFAULT_RATE
    value = conf.getfloat("trigger", "poll_budget", fallback=DEFAULT_RATE)
    if value <= 0:
        raise ValueError(f"[trigger] poll_budget must be > 0 requests per second, got {value:g}")
    return value


request_budgets = _Budgets()
"""The process-wide budgets the triggerer's waits share."""
