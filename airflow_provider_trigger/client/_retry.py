"""The retry policy: the SDK's decision table (catalogue §5), run by tenacity.

Order of the decision on an error response: ``x-should-retry: true`` → retry, ``false`` → never;
408 and 409 → retry; 429 → wait until ``x-ratelimit-reset`` (epoch ms) plus up to 1 s of jitter,
else ``Retry-After``, else back off; ≥ 500 → retry; anything else → raise. Connection errors are
retried with the same backoff. A policy (and its tenacity objects) is built once per
``RetryOptions`` and reused for every call.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import tenacity

from airflow_provider_trigger.client._constants import MAX_RATE_LIMIT_WAIT
from airflow_provider_trigger.client._types import RetryOptions
from airflow_provider_trigger.client.errors import ApiConnectionError, ApiError, BatchNotSealedError

T = TypeVar("T")
SyncSleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def backoff_delay(options: RetryOptions, attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Delay (s) after failed attempt ``attempt`` (1-based): ``min(max, min * factor ** (attempt - 1))``."""
    jitter = 1 + rng() if options.randomize else 1.0
    return min(options.max_timeout, jitter * options.min_timeout * options.factor ** (attempt - 1))


def should_retry(exc: BaseException) -> bool:
    """The SDK's decision table; ``x-should-retry`` is obeyed before the status."""
    if isinstance(exc, ApiConnectionError | BatchNotSealedError):
        return True
    if not isinstance(exc, ApiError) or exc.status is None:
        return False
    header = exc.headers.get("x-should-retry")
    if header == "true":
        return True
    if header == "false":
        return False
    return exc.status in (408, 409, 429) or exc.status >= 500


def rate_limit_delay(exc: ApiError, now: float, rng: Callable[[], float]) -> float | None:
    """Seconds to wait for a 429 from ``x-ratelimit-reset`` (epoch ms) + jitter, else ``Retry-After``."""
    reset = exc.headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        delay = (int(reset) - now * 1000 + rng() * 1000) / 1000
        if delay > 0:
            return min(delay, MAX_RATE_LIMIT_WAIT)
    retry_after = exc.headers.get("retry-after")
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after), MAX_RATE_LIMIT_WAIT)
    return None


class RetryPolicy:
    """One ``RetryOptions`` turned into reusable tenacity controllers (sync and async).

    The first attempt runs directly (the common, successful path costs nothing extra); after a
    retryable failure tenacity drives attempts 2..max_attempts with the same wait rules.
    """

    def __init__(
        self,
        options: RetryOptions,
        *,
        sleep: SyncSleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
        clock: Clock = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._clock = clock
        self._rng = rng
        self._sync: tenacity.Retrying | None = None
        self._async: tenacity.AsyncRetrying | None = None
        if options.max_attempts > 1:
            common = {
                "stop": tenacity.stop_after_attempt(options.max_attempts - 1),
                "wait": self._wait,
                "retry": tenacity.retry_if_exception(should_retry),
                "reraise": True,
            }
            self._sync = tenacity.Retrying(sleep=sleep, **common)  # type: ignore[arg-type]
            self._async = tenacity.AsyncRetrying(sleep=async_sleep, **common)  # type: ignore[arg-type]

    def delay(self, exc: BaseException, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) that raised ``exc``."""
        if (
            isinstance(exc, ApiError)
            and exc.status == 429
            and exc.headers.get("x-should-retry") != "true"
            and (wait := rate_limit_delay(exc, self._clock(), self._rng)) is not None
        ):
            return wait
        return backoff_delay(self.options, attempt, self._rng)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.delay(exc, state.attempt_number + 1) if exc else 0.0  # +1: the first ran outside

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, fails for good, or attempts run out (last error raised)."""
        try:
            return attempt()
        except Exception as exc:
            if self._sync is None or not should_retry(exc):
                raise
            self._sleep(self.delay(exc, 1))
        return self._sync(attempt)

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        try:
            return await attempt()
        except Exception as exc:
            if self._async is None or not should_retry(exc):
                raise
            await self._async_sleep(self.delay(exc, 1))
        # tenacity keeps per-call iteration state in a thread-local, which concurrent coroutines of one
        # event loop would share: give each retrying call its own copy (only on this rare path).
        return await self._async.copy()(attempt)
