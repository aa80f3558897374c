"""The minimal newer groups: sessions, errors grouped from failed runs, query."""

from __future__ import annotations

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api

SESSION = {"type": "chat", "taskIdentifier": "agent", "triggerConfig": {"basePayload": {"hi": 1}}}


def test_session_create_cached_update_close(api: Api) -> None:
    created = api.post("/api/v1/sessions", json={**SESSION, "externalId": "conv-1", "tags": ["a"]})
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("session_") and body["isCached"] is False and body["publicAccessToken"]
    assert api.run(body["runId"])["payload"] == {"hi": 1}
    again = api.post("/api/v1/sessions", json={**SESSION, "externalId": "conv-1"})
    assert (again.status_code, again.json()["id"], again.json()["isCached"]) == (200, body["id"], True)
    assert api.get("/api/v1/sessions/conv-1").json()["id"] == body["id"]
    patched = api.request("PATCH", f"/api/v1/sessions/{body['id']}", json={"metadata": {"k": 1}}).json()
    assert patched["metadata"] == {"k": 1} and patched["tags"] == ["a"]
    closed = api.post(f"/api/v1/sessions/{body['id']}/close", json={"reason": "done"}).json()
    assert closed["closedReason"] == "done" and closed["closedAt"]
    conflict = api.post("/api/v1/sessions", json={**SESSION, "externalId": "conv-1"})
    assert conflict.status_code == 409
    listed = api.get("/api/v1/sessions?filter[status]=CLOSED").json()["data"]
    assert [s["id"] for s in listed] == [body["id"]]
    assert api.get("/api/v1/sessions?filter[status]=ACTIVE,CLOSED").status_code == 400
    assert api.get("/api/v1/sessions?page[after]=a&page[before]=b").status_code == 400
    assert api.get("/api/v1/sessions/nope").status_code == 404


def test_errors_grouped_from_failed_runs(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("bad", fail="kaput"))
    api.trigger("bad")
    api.trigger("bad")
    api.trigger("good")
    clock.advance(5)
    errors = api.get("/api/v1/errors").json()["data"]
    assert [(e["taskIdentifier"], e["errorMessage"], e["count"], e["status"]) for e in errors] == [
        ("bad", "kaput", 2, "unresolved")
    ]
    error_id = errors[0]["id"]
    assert api.post(f"/api/v1/errors/{error_id}/resolve", json={}).json()["status"] == "resolved"
    assert api.get(f"/api/v1/errors/{error_id}").json()["resolvedAt"]
    assert api.get("/api/v1/errors?filter[status]=unresolved").json()["data"] == []
    assert api.post(f"/api/v1/errors/{error_id}/unresolve").json()["status"] == "unresolved"
    assert api.get("/api/v1/errors/error_nope").status_code == 404


def test_query_returns_empty_results(api: Api) -> None:
    assert api.post("/api/v1/query", json={"query": "SELECT 1"}).json() == {"format": "json", "results": []}
    assert api.post("/api/v1/query", json={"query": "SELECT 1", "format": "csv"}).json()["results"] == ""
    assert api.post("/api/v1/query", json={}).status_code == 400
