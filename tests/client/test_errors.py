"""Each error class, built from real responses; bodies kept whole and tolerated when not JSON."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import (
    APIError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryOptions,
    TriggerClient,
    UnprocessableEntityError,
)
from airflow_provider_trigger.emulator import EmulatorServer
from tests.client.conftest import Scripted

ONCE = RetryOptions(max_attempts=1)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, ApiError),
    ],
)
def test_error_class_by_status(emulator: EmulatorServer, status: int, error: type[ApiError]) -> None:
    client = TriggerClient(emulator.secret_key, base_url=emulator.base_url, retry=ONCE)
    emulator.faults.inject("GET", "/api/v1/schedules", kind=status, body={"error": f"injected {status}"})
    with pytest.raises(error) as info:
        client.schedules.list()
    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.body == {"error": f"injected {status}"}
    assert str(info.value) == f"{status} injected {status}"
    assert isinstance(info.value, APIError)


def test_real_not_found_from_the_server(client: TriggerClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.schedules.retrieve("sched_missing")
    assert info.value.status == 404
    assert isinstance(info.value.body, dict) and "error" in info.value.body


def test_real_authentication_error(emulator: EmulatorServer) -> None:
    client = TriggerClient("tr_dev_notarealkey", base_url=emulator.base_url, retry=ONCE)
    with pytest.raises(AuthenticationError) as info:
        client.tasks.trigger("hello-world", {})
    assert info.value.status == 401
    assert "tr_dev_notarealkey" not in str(info.value)


def test_validation_error_keeps_whole_body(client: TriggerClient) -> None:
    with pytest.raises(ApiError) as info:
        client.schedules.create(task="hello-world", cron="not a cron", deduplication_key="bad")
    assert info.value.status in (400, 422)
    assert isinstance(info.value.body, dict)


@pytest.mark.parametrize(
    ("raw", "content_type", "expected_body", "expected_message"),
    [
        (
            b"<html><h1>502 Bad Gateway</h1></html>",
            "text/html",
            "<html><h1>502 Bad Gateway</h1></html>",
            "502 <html>",
        ),
        (b'{"error": "trunc', "application/json", '{"error": "trunc', '502 {"error": "trunc'),
        (b"", "application/json", None, "502 status code (no body)"),
        (b'{"title": "Too many", "detail": "slow"}', "application/problem+json", None, "502 slow"),
    ],
)
def test_non_json_and_odd_bodies_are_tolerated(
    scripted: Scripted, raw: bytes, content_type: str, expected_body: object, expected_message: str
) -> None:
    scripted.add(502, raw, {"content-type": content_type, "x-should-retry": "false"})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url)
    with pytest.raises(InternalServerError) as info:
        client.runs.retrieve("run_1")
    if expected_body is not None:
        assert info.value.body == expected_body
    assert str(info.value).startswith(expected_message)
    assert info.value.headers["content-type"] == content_type


def test_authorization_error_exposes_code(scripted: Scripted) -> None:
    body = {"error": "Unauthorized", "code": "unauthorized", "param": "access_token", "type": "authorization"}
    scripted.add(403, body)
    with pytest.raises(PermissionDeniedError) as info:
        TriggerClient("tr_dev_x", base_url=scripted.base_url).runs.retrieve("run_1")
    assert info.value.code == "unauthorized"
    assert info.value.body == body
    assert repr(info.value) == "PermissionDeniedError(status=403, message='403 Unauthorized')"
