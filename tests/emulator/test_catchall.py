"""Bad requests get the server's 4xx errors, never a 500 from the emulator itself."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.emulator import EmulatorServer

from .conftest import Api

P = "proj_emulatorlocalproject"
ROUTES = [
    ("POST", "/api/v1/tasks/t/trigger"),
    ("POST", "/api/v1/tasks/t/batch"),
    ("POST", "/api/v1/tasks/batch"),
    ("POST", "/api/v2/tasks/batch"),
    ("POST", "/api/v3/batches"),
    ("POST", "/api/v3/batches/{batch}/items"),
    ("GET", "/api/v1/batches/{batch}"),
    ("GET", "/api/v2/batches/{batch}"),
    ("GET", "/api/v1/batches/{batch}/results"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v3/runs/{run}"),
    ("POST", "/api/v2/runs/{run}/cancel"),
    ("POST", "/api/v1/runs/{run}/replay"),
    ("POST", "/api/v1/runs/{run}/reschedule"),
    ("GET", "/api/v1/runs/{run}/metadata"),
    ("PUT", "/api/v1/runs/{run}/metadata"),
    ("POST", "/api/v1/runs/{run}/tags"),
    ("GET", "/api/v1/runs/{run}/result"),
    ("GET", "/api/v1/runs/{run}/events"),
    ("GET", "/api/v1/runs/{run}/trace"),
    ("POST", "/api/v1/bulk-actions"),
    ("GET", "/api/v1/bulk-actions"),
    ("GET", "/api/v1/bulk-actions/bulk_x"),
    ("POST", "/api/v1/bulk-actions/bulk_x/abort"),
    ("POST", "/api/v1/idempotencyKeys/k/reset"),
    ("GET", f"/api/v1/projects/{P}/envvars/dev"),
    ("POST", f"/api/v1/projects/{P}/envvars/dev"),
    ("POST", f"/api/v1/projects/{P}/envvars/dev/import"),
    ("GET", f"/api/v1/projects/{P}/envvars/dev/A"),
    ("PUT", f"/api/v1/projects/{P}/envvars/dev/A"),
    ("DELETE", f"/api/v1/projects/{P}/envvars/dev/A"),
    ("GET", f"/api/v1/projects/{P}/envvars"),
    ("POST", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/{schedule}"),
    ("PUT", "/api/v1/schedules/{schedule}"),
    ("DELETE", "/api/v1/schedules/{schedule}"),
    ("POST", "/api/v1/schedules/{schedule}/activate"),
    ("GET", "/api/v1/timezones"),
    ("GET", "/api/v1/queues"),
    ("GET", "/api/v1/queues/{queue}"),
    ("POST", "/api/v1/queues/{queue}/pause"),
    ("POST", "/api/v1/queues/{queue}/concurrency/override"),
    ("POST", "/api/v1/queues/{queue}/concurrency/reset"),
    ("POST", "/api/v1/waitpoints/tokens"),
    ("GET", "/api/v1/waitpoints/tokens"),
    ("GET", "/api/v1/waitpoints/tokens/{token}"),
    ("POST", "/api/v1/waitpoints/tokens/{token}/complete"),
    ("GET", "/api/v1/deployments"),
    ("GET", "/api/v1/deployments/current"),
    ("POST", "/api/v1/sessions"),
    ("GET", "/api/v1/sessions"),
    ("GET", "/api/v1/sessions/session_x"),
    ("PATCH", "/api/v1/sessions/{session}"),
    ("POST", "/api/v1/sessions/{session}/close"),
    ("GET", "/api/v1/errors"),
    ("GET", "/api/v1/errors/error_x"),
    ("POST", "/api/v1/errors/error_x/resolve"),
    ("POST", "/api/v1/query"),
    ("POST", "/api/v1/auth/jwt"),
    ("POST", f"/api/v1/projects/{P}/dev/jwt"),
    ("GET", "/realtime/v1/runs/{run}"),
    ("GET", "/realtime/v1/runs"),
    ("GET", "/realtime/v1/batches/{batch}"),
    ("POST", "/_emulator/faults"),
    ("POST", "/_emulator/tasks/t"),
    ("PATCH", "/_emulator/config"),
    ("POST", "/_emulator/branches"),
    ("GET", "/runs/{run}"),
    ("GET", "/api/v1/nope"),
]
BODIES: list[bytes] = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"12",
    b'{"payload": {"a": 1}, "options": "x"}',
    b'{"items": "x", "runCount": "x", "tags": 5, "delay": 7, "variables": [1], "name": null}',
    b'{"items": [{"task": 1}], "runCount": -1, "action": "explode", "filter": [], "task": [], "cron": 5}',
    b'{"metadata": 1, "operations": [{"type": "increment", "key": "a", "value": "x"}], "value": 1}',
    b'{"type": "bogus", "action": "pause", "concurrencyLimit": -5, "percent": "half", "data": {}}',
    b'{"index": -1, "task": "t"}\n{"index": "x"}',
    '{"name": "\\u0000", "value": "\u00e9", "cron": "\u00e9 * * * *"}'.encode(),
]
QUERIES = [
    "?offset=-1&live=true",
    "?offset=abc&handle=zz&live=true&tags=a,,b&createdAt=9x&skipColumns=,,",
    "",
    "?page[size]=abc&page=x&perPage=-1",
    "?page[size]=0&filter[createdAt][from]=nope&type=zzz",
    "?page[after]=x&page[before]=y&filter[status]=,&filter[env]=dev",
]


@pytest.fixture
def ids(emulator: EmulatorServer, api: Api) -> dict[str, str]:
    emulator.state.config.realtime_hold_timeout = 0.05
    run_id = api.trigger("t", {"a": 1})
    batch = api.post("/api/v3/batches", json={"runCount": 1}).json()["id"]
    schedule = api.post(
        "/api/v1/schedules", json={"task": "t", "cron": "* * * * *", "deduplicationKey": "d"}
    ).json()
    token = api.post("/api/v1/waitpoints/tokens", json={}).json()["id"]
    queue = api.get("/api/v1/queues").json()["data"][0]["id"]
    session = api.post(
        "/api/v1/sessions", json={"type": "c", "taskIdentifier": "t", "triggerConfig": {"basePayload": {}}}
    ).json()["id"]
    return {
        "run": run_id,
        "batch": batch,
        "schedule": schedule["id"],
        "token": token,
        "queue": queue,
        "session": session,
    }


def _documented_500(path: str, query: str) -> bool:
    """Where the real server itself answers 500 (trigger-api.md §2, §7.13)."""
    both_cursors = "page[after]" in query and "page[before]" in query
    return (path == "/api/v1/bulk-actions" and both_cursors) or (
        path.endswith("/runs") and "/projects/" in path
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_route_answers_500_to_bad_input(
    emulator: EmulatorServer, api: Api, ids: dict[str, str], method: str, path: str
) -> None:
    url = path.format(**ids)
    attempts = [(body, "", ct) for body in BODIES for ct in ("application/json", "application/x-ndjson")]
    attempts += [(b"{}", query, "application/json") for query in QUERIES]
    for body, query, content_type in attempts:
        response = api.request(method, url + query, data=body, headers={"Content-Type": content_type})
        if response.status_code >= 500 and not _documented_500(path, query):
            raise AssertionError(f"{method} {url}{query} {body!r} -> {response.status_code} {response.text}")
        assert "emulatorBug" not in response.text
        assert response.headers["content-type"].startswith(
            ("application/json", "application/problem+json", "text/html")
        )


def test_unknown_route_and_wrong_method(api: Api) -> None:
    assert api.get("/api/v1/nope").json() == {"error": "Not found"}
    wrong = api.delete("/api/v1/runs")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "Method not allowed"})


def test_every_auth_failure_is_a_4xx(emulator: EmulatorServer, ids: dict[str, str]) -> None:
    for token in (None, "garbage", emulator.pat, emulator.keys["preview"]):
        client = Api(emulator, token)
        for method, path in ROUTES:
            if path.startswith("/_emulator"):
                continue  # no auth there; an empty fault body would inject a 500 fault
            response = client.request(method, path.format(**ids), json={})
            assert response.status_code < 500, (token, method, path, response.text)
