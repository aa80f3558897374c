"""Fault injection (status codes, dropped connections before/after applying, random mode) and the limiter."""

from __future__ import annotations

import time

import httpx
import pytest
import requests

from airflow_provider_trigger.emulator import EmulatorServer, RateLimit

from .conftest import Api

TRIGGER = "/api/v1/tasks/*/trigger"


@pytest.mark.parametrize("status", [500, 503, 408, 409])
def test_status_fault_answers_instead_of_the_route(emulator: EmulatorServer, api: Api, status: int) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=status, count=2)
    assert [api.post("/api/v1/tasks/t/trigger", json={}).status_code for _ in range(3)] == [
        status,
        status,
        200,
    ]
    assert len(emulator.state.runs) == 1  # the faulted requests were not applied
    assert [r.fault for r in emulator.requests] == [str(status), str(status), None]


def test_429_fault_carries_rate_limit_headers(emulator: EmulatorServer, api: Api) -> None:
    emulator.faults.inject("POST", TRIGGER, kind=429, reset_after=2.0)
    before_ms = time.time() * 1000
    response = api.post("/api/v1/tasks/t/trigger", json={})
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    reset_ms = int(response.headers["x-ratelimit-reset"])
    assert before_ms + 1500 < reset_ms < before_ms + 4000
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.json()["reset"] == reset_ms


def test_fault_matches_method_and_path(emulator: EmulatorServer, api: Api) -> None:
    emulator.faults.inject("GET", "/api/v3/runs/*", kind=500)
    run_id = api.trigger("t")  # POST, not matched
    assert api.get(f"/api/v3/runs/{run_id}").status_code == 500
    assert api.get(f"/api/v3/runs/{run_id}").status_code == 200


def test_skip_lets_first_requests_through(emulator: EmulatorServer, api: Api) -> None:
    emulator.faults.inject(path="/api/v1/runs", kind=503, skip=1)
    assert [api.get("/api/v1/runs").status_code for _ in range(3)] == [200, 503, 200]


def test_drop_before_is_a_connection_error_and_nothing_is_applied(emulator: EmulatorServer, api: Api) -> None:
    emulator.faults.inject("POST", TRIGGER, kind="drop_before")
    with pytest.raises(requests.ConnectionError):
        api.post("/api/v1/tasks/t/trigger", json={})
    assert emulator.state.runs == {}
    assert api.post("/api/v1/tasks/t/trigger", json={}).status_code == 200  # the next request works


def test_drop_after_applies_the_request_but_loses_the_response(emulator: EmulatorServer, api: Api) -> None:
    emulator.faults.inject("POST", TRIGGER, kind="drop_after")
    headers = {"x-trigger-request-idempotency-key": "lost-response"}
    with pytest.raises(requests.ConnectionError):
        api.post("/api/v1/tasks/t/trigger", json={}, headers=headers)
    assert len(emulator.state.runs) == 1  # the run exists although the client saw no response
    (run_id,) = emulator.state.runs
    retried = api.post("/api/v1/tasks/t/trigger", json={}, headers=headers)
    assert retried.json()["id"] == run_id  # a retry with the same request key finds it
    assert len(emulator.state.runs) == 1


def test_drop_is_a_transport_error_for_httpx(emulator: EmulatorServer) -> None:
    emulator.faults.inject("GET", "/api/v1/runs", kind="drop_before")
    with pytest.raises(httpx.TransportError):
        httpx.get(
            emulator.base_url + "/api/v1/runs", headers={"Authorization": f"Bearer {emulator.secret_key}"}
        )


def test_random_faults_are_seeded_and_mixed(emulator: EmulatorServer, api: Api) -> None:
    def outcomes() -> list[str]:
        emulator.reset()
        emulator.faults.inject_random(0.5, [500, 503, "drop_before"], seed=42, path="/api/v1/runs")
        seen = []
        for _ in range(30):
            try:
                seen.append(str(api.get("/api/v1/runs").status_code))
            except requests.ConnectionError:
                seen.append("drop")
        return seen

    first = outcomes()
    assert first == outcomes()
    assert {"200", "500", "503", "drop"} <= set(first)


def test_faults_over_control_api(emulator: EmulatorServer, api: Api) -> None:
    control = requests.post(
        emulator.base_url + "/_emulator/faults",
        json={"method": "GET", "path": "/api/v1/runs", "kind": 503},
        timeout=10,
    )
    assert control.json() == {"success": True}
    assert api.get("/api/v1/runs").status_code == 503
    bad = requests.post(emulator.base_url + "/_emulator/faults", json={"kind": "explode"}, timeout=10)
    assert bad.status_code == 400


def test_rate_limiter_token_bucket(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.rate_limit = RateLimit(burst=3, refill=3, interval=60)
    responses = [api.get("/api/v1/runs") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["x-ratelimit-limit"] == "3"
    assert responses[0].headers["x-ratelimit-remaining"] == "2"
    limited = responses[3]
    assert limited.headers["content-type"] == "application/problem+json"
    body = limited.json()
    assert (body["title"], body["status"], body["limit"], body["remaining"]) == (
        "Rate Limit Exceeded",
        429,
        3,
        0,
    )
    assert int(limited.headers["x-ratelimit-reset"]) > time.time() * 1000
    other_key = Api(emulator, emulator.keys["prod"])
    assert other_key.get("/api/v1/runs").status_code == 200  # buckets are per token
    assert requests.get(emulator.base_url + "/_emulator/state", timeout=10).status_code == 200  # not /api


def test_rate_limiter_on_by_default_and_can_be_turned_off(emulator: EmulatorServer, api: Api) -> None:
    assert api.get("/api/v1/runs").headers["x-ratelimit-limit"] == "750"
    emulator.state.config.rate_limit = None
    assert "x-ratelimit-limit" not in api.get("/api/v1/runs").headers
