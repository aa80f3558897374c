"""The retry decision table (catalogue §5), with waits recorded instead of slept."""

from __future__ import annotations

import time

import pytest

from airflow_provider_trigger.client import (
    ApiConnectionError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RequestOptions,
    RetryOptions,
    TriggerClient,
    UnprocessableEntityError,
)
from airflow_provider_trigger.emulator import EmulatorServer
from tests.client.conftest import Scripted

TRIGGER = "/api/v1/tasks/*/trigger"
KEY = "x-trigger-request-idempotency-key"


def _trigger_requests(emulator: EmulatorServer) -> list:
    return [r for r in emulator.requests.all() if r.path.endswith("/trigger")]


def test_5xx_retried_with_the_same_request_key(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=503, count=2)
    result = client.tasks.trigger("hello-world", {"n": 1})
    sent = _trigger_requests(emulator)
    assert [r.status for r in sent] == [503, 503, 200]
    assert len({r.headers[KEY] for r in sent}) == 1
    assert sleeps == [1.0, 1.6]
    assert result.id.startswith("run_")


@pytest.mark.parametrize("status", [408, 409, 500, 502, 504])
def test_retryable_statuses(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float], status: int
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=status, count=1)
    client.tasks.trigger("hello-world", {})
    assert [r.status for r in _trigger_requests(emulator)] == [status, 200]
    assert sleeps == [1.0]


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (422, UnprocessableEntityError)])
def test_client_errors_not_retried(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float], status: int, error: type[Exception]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=status, count=1)
    with pytest.raises(error):
        client.tasks.trigger("hello-world", {})
    assert len(_trigger_requests(emulator)) == 1
    assert sleeps == []


def test_exhausted_retries_raise_the_last_error_after_five_attempts(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=500, count=None)
    with pytest.raises(InternalServerError) as info:
        client.tasks.trigger("hello-world", {})
    assert info.value.status == 500
    assert len(_trigger_requests(emulator)) == 5
    assert sleeps == pytest.approx([1.0, 1.6, 2.56, 4.096])


def test_x_should_retry_true_retries_a_404(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    with pytest.raises(NotFoundError) as info:
        client.runs.retrieve("run_doesnotexist")
    assert info.value.headers["x-should-retry"] == "true"
    gets = [r for r in emulator.requests.all() if r.path == "/api/v3/runs/run_doesnotexist"]
    assert len(gets) == 5
    assert len({r.headers[KEY] for r in gets}) == 1
    assert len(sleeps) == 4


def test_x_should_retry_false_wins_over_a_5xx(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(503, {"error": "no"}, {"x-should-retry": "false", "content-type": "application/json"})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append)
    with pytest.raises(InternalServerError):
        client.runs.retrieve("run_1")
    assert len(scripted.received) == 1 and sleeps == []


def test_x_should_retry_true_uses_backoff_even_on_a_400(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(400, {"error": "try again"}, {"x-should-retry": "true"})
    scripted.add(200, {"id": "run_1", "status": "QUEUED"})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append)
    assert client.runs.retrieve("run_1").id == "run_1"
    assert sleeps == [1.0]


def test_429_waits_until_the_reset_time_with_the_clock_controlled(
    scripted: Scripted, sleeps: list[float]
) -> None:
    now = 1_900_000_000.0
    scripted.add(429, {"error": "slow down"}, {"x-ratelimit-reset": str(int(now * 1000) + 7_500)})
    scripted.add(200, {"id": "run_1", "status": "QUEUED"})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append, clock=lambda: now)
    client.runs.retrieve("run_1")
    assert len(sleeps) == 1
    assert 7.5 <= sleeps[0] < 8.5  # reset - now + up to 1 s of jitter
    keys = {r["headers"]["x-trigger-request-idempotency-key"] for r in scripted.received}
    assert len(keys) == 1


def test_429_from_the_emulator_waits_for_its_reset(
    emulator: EmulatorServer, client: TriggerClient, sleeps: list[float]
) -> None:
    frozen = time.time()
    timed = TriggerClient(
        emulator.secret_key, base_url=emulator.base_url, sleep=sleeps.append, clock=lambda: frozen
    )
    emulator.faults.inject("POST", TRIGGER, kind=429, count=1, reset_after=20)
    timed.tasks.trigger("hello-world", {})
    assert len(sleeps) == 1
    assert 19.0 < sleeps[0] < 21.5
    assert [r.status for r in _trigger_requests(emulator)] == [429, 200]


def test_429_without_reset_header_backs_off(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(429, {"error": "slow down"})
    scripted.add(200, {"id": "run_1"})
    TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append).runs.retrieve("run_1")
    assert sleeps == [1.0]


def test_429_with_reset_in_the_past_backs_off(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(429, {"error": "slow down"}, {"x-ratelimit-reset": "1000"})
    scripted.add(200, {"id": "run_1"})
    TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append).runs.retrieve("run_1")
    assert sleeps == [1.0]


def test_429_exhausted_raises_rate_limit_error_with_time_until_reset(
    scripted: Scripted, sleeps: list[float]
) -> None:
    reset = int(time.time() * 1000) + 60_000
    scripted.add(429, {"error": "slow down"}, {"x-ratelimit-reset": str(reset)})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append, retry=RetryOptions(2))
    with pytest.raises(RateLimitError) as info:
        client.runs.retrieve("run_1")
    assert len(scripted.received) == 2
    assert info.value.ms_until_reset is not None and 0 < info.value.ms_until_reset <= 60_000
    assert 0 < (info.value.seconds_until_reset or 0) <= 60


def test_connection_drops_retried_then_succeed(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind="drop_before", count=2)
    client.tasks.trigger("hello-world", {})
    assert len(_trigger_requests(emulator)) == 3
    assert sleeps == [1.0, 1.6]


def test_connection_errors_end_in_api_connection_error(sleeps: list[float]) -> None:
    client = TriggerClient("tr_dev_x", base_url="http://127.0.0.1:9", sleep=sleeps.append)
    with pytest.raises(ApiConnectionError) as info:
        client.runs.retrieve("run_1")
    assert info.value.status is None
    assert len(sleeps) == 4


@pytest.mark.usefixtures("no_list_lag")  # counts runs through the list right away
def test_dropped_after_applying_does_not_duplicate_the_run(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind="drop_after", count=1)
    result = client.tasks.trigger("hello-world", {"n": 1})
    sent = _trigger_requests(emulator)
    assert len(sent) == 2 and len({r.headers[KEY] for r in sent}) == 1
    assert [run.id for run in client.runs.list()] == [result.id]


def test_max_attempts_one_disables_retries(emulator: EmulatorServer, sleeps: list[float]) -> None:
    client = TriggerClient(
        emulator.secret_key,
        base_url=emulator.base_url,
        sleep=sleeps.append,
        retry=RetryOptions(max_attempts=1),
    )
    emulator.faults.inject("POST", TRIGGER, kind=503, count=1)
    with pytest.raises(InternalServerError):
        client.tasks.trigger("hello-world", {})
    assert len(_trigger_requests(emulator)) == 1 and sleeps == []


def test_per_call_retry_override(
    client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=503, count=None)
    with pytest.raises(InternalServerError):
        client.tasks.trigger(
            "hello-world", {}, request_options=RequestOptions(retry=RetryOptions(max_attempts=1))
        )
    assert len(_trigger_requests(emulator)) == 1
    emulator.requests.clear()
    with pytest.raises(InternalServerError):
        client.tasks.trigger(
            "hello-world",
            {},
            request_options=RequestOptions(retry=RetryOptions(3, factor=2, min_timeout=0.5)),
        )
    assert len(_trigger_requests(emulator)) == 3
    assert sleeps == [0.5, 1.0]


def test_with_options_retry(client: TriggerClient, emulator: EmulatorServer, sleeps: list[float]) -> None:
    emulator.faults.inject("GET", "/api/v3/runs/*", kind=503, count=None)
    with pytest.raises(InternalServerError):
        client.with_options(retry=RetryOptions(max_attempts=2)).runs.retrieve("run_x")
    assert len(emulator.requests) == 2 and sleeps == [1.0]


def test_randomized_backoff_stays_within_one_to_two_times(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(500, {"error": "boom"})
    options = RetryOptions(max_attempts=4, factor=2, min_timeout=1, max_timeout=3, randomize=True)
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append, retry=options)
    with pytest.raises(InternalServerError):
        client.runs.retrieve("run_1")
    assert 1 <= sleeps[0] < 2 and 2 <= sleeps[1] < 4 and sleeps[2] == 3  # capped at max_timeout


def test_retry_policy_built_once_per_options(client: TriggerClient) -> None:
    assert client._config.policy(None) is client._config.policy(None)
    assert client._config.policy(RetryOptions(2)) is client._config.policy(RetryOptions(2))


def test_invalid_retry_options() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryOptions(max_attempts=0)
