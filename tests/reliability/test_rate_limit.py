"""Figure 3: under a burst above the emulator's rate limit the client waits for ``x-ratelimit-reset``.

Uses the real clock (the emulator's token bucket does), with a 1 s window: a few seconds per test.
"""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import RateLimitError, RetryOptions, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, RateLimit
from benchmarks.reliability import rate_limit_burst


def test_a_burst_waits_for_the_reset_instead_of_hammering(emulator: EmulatorServer) -> None:
    figures = rate_limit_burst(emulator, clients=3, calls=6, limit=RateLimit(burst=6, refill=6, interval=1.0))

    assert figures.limited > 0  # the burst did exceed the limit
    assert figures.early == 0  # no request reached the server before its client's reset
    assert figures.rate_limit_errors == 0
    assert figures.succeeded == figures.server_runs == 18
    # each 429 costs one request, then the client waits: far from a tight loop
    assert figures.requests == 18 + figures.limited
    assert figures.max_attempts_used <= RetryOptions().max_attempts


def test_the_wait_asked_for_is_the_time_until_the_reset(emulator: EmulatorServer) -> None:
    emulator.state.config.rate_limit = RateLimit(burst=1, refill=1, interval=30.0)
    waits: list[float] = []
    with TriggerClient(
        emulator.secret_key, base_url=emulator.base_url, sleep=waits.append, retry=RetryOptions(3)
    ) as client:
        client.runs.list(limit=1)
        with pytest.raises(RateLimitError, match="Rate limit exceeded") as info:
            client.runs.list(limit=1)

    assert len(waits) == 2 and len(emulator.requests) == 4
    # the limiter's window is 30 s: each wait is "until the reset" (+ < 1 s jitter), not a short backoff
    assert all(25 < wait < 31 for wait in waits)
    assert info.value.status == 429 and info.value.seconds_until_reset is not None
