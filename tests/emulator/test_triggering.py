"""Triggering: body validation, idempotency keys, the request replay cache, size limits, v1/v2 batches."""

from __future__ import annotations

import base64
import json

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api


def test_trigger_returns_id_and_public_jwt(emulator: EmulatorServer, api: Api) -> None:
    response = api.post("/api/v1/tasks/hello/trigger", json={"payload": {"a": 1}})
    body = response.json()
    assert body["id"].startswith("run_") and body["isCached"] is False
    claims = json.loads(response.headers["x-trigger-jwt-claims"])
    assert claims["scopes"] == [f"read:runs:{body['id']}", f"write:inputStreams:{body['id']}"]
    token_payload = response.headers["x-trigger-jwt"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(token_payload + "=" * (-len(token_payload) % 4)))
    assert decoded["pub"] is True


def test_trigger_records_options(api: Api) -> None:
    run_id = api.trigger("opts", {"p": 1}, tags=["b", "a"], machine="small-2x", metadata={"m": 1}, test=True)
    run = api.run(run_id)
    assert run["tags"] == ["a", "b"]
    assert run["metadata"] == {"m": 1}
    assert run["isTest"] is True


def test_invalid_trigger_bodies_get_400_naming_the_field(api: Api) -> None:
    too_many = api.post(
        "/api/v1/tasks/t/trigger", json={"payload": 1, "options": {"tags": [str(i) for i in range(11)]}}
    )
    assert too_many.status_code == 400
    assert "tags" in too_many.json()["error"]
    bad_machine = api.post("/api/v1/tasks/t/trigger", json={"options": {"machine": "huge"}})
    assert bad_machine.status_code == 400 and "machine" in bad_machine.json()["error"]
    empty = api.post("/api/v1/tasks/t/trigger", data=b"", headers={"Content-Type": "application/json"})
    assert (empty.status_code, empty.json()) == (400, {"error": "Request body is empty"})
    broken = api.post("/api/v1/tasks/t/trigger", data=b"{nope", headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()) == (400, {"error": "Invalid JSON"})


def test_strict_tasks_unknown_task_is_404(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.strict_tasks = True
    emulator.state.set_task(TaskBehaviour("known"))
    assert api.post("/api/v1/tasks/known/trigger", json={}).status_code == 200
    response = api.post("/api/v1/tasks/unknown/trigger", json={})
    assert (response.status_code, response.json()) == (404, {"error": "Task not found"})


def test_body_over_3mb_is_413(api: Api) -> None:
    response = api.post("/api/v1/tasks/t/trigger", json={"payload": "x" * (3 * 1024 * 1024)})
    assert (response.status_code, response.json()) == (413, {"error": "Request body too large"})


def test_idempotency_key_returns_cached_run_scoped_to_env_and_task(
    emulator: EmulatorServer, api: Api
) -> None:
    first = api.post(
        "/api/v1/tasks/t/trigger", json={"payload": 1, "options": {"idempotencyKey": "k"}}
    ).json()
    again = api.post(
        "/api/v1/tasks/t/trigger", json={"payload": 2, "options": {"idempotencyKey": "k"}}
    ).json()
    assert again == {"id": first["id"], "isCached": True}
    other_task = api.post("/api/v1/tasks/u/trigger", json={"options": {"idempotencyKey": "k"}}).json()
    assert other_task["id"] != first["id"]
    prod = Api(emulator, emulator.keys["prod"])
    other_env = prod.post("/api/v1/tasks/t/trigger", json={"options": {"idempotencyKey": "k"}}).json()
    assert other_env["isCached"] is False
    assert api.run(first["id"])["idempotencyKey"] == "k"


def test_idempotency_header_overrides_body(api: Api) -> None:
    first = api.post("/api/v1/tasks/t/trigger", json={}, headers={"idempotency-key": "h"}).json()
    again = api.post(
        "/api/v1/tasks/t/trigger",
        json={"options": {"idempotencyKey": "other"}},
        headers={"idempotency-key": "h"},
    ).json()
    assert again == {"id": first["id"], "isCached": True}


def test_idempotency_key_ttl_expires(api: Api, clock: ManualClock) -> None:
    body = {"options": {"idempotencyKey": "ttl", "idempotencyKeyTTL": "10s"}}
    first = api.post("/api/v1/tasks/t/trigger", json=body).json()["id"]
    clock.advance(5)
    assert api.post("/api/v1/tasks/t/trigger", json=body).json()["id"] == first
    clock.advance(6)
    assert api.post("/api/v1/tasks/t/trigger", json=body).json()["id"] != first


def test_idempotency_key_cleared_when_cached_run_failed(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("flaky", fail="nope"))
    body = {"options": {"idempotencyKey": "f"}}
    first = api.post("/api/v1/tasks/flaky/trigger", json=body).json()["id"]
    assert api.post("/api/v1/tasks/flaky/trigger", json=body).json() == {"id": first, "isCached": True}
    clock.advance(5)
    retried = api.post("/api/v1/tasks/flaky/trigger", json=body).json()
    assert retried["id"] != first and retried["isCached"] is False


def test_idempotency_key_survives_completed_run(api: Api, clock: ManualClock) -> None:
    body = {"options": {"idempotencyKey": "c"}}
    first = api.post("/api/v1/tasks/t/trigger", json=body).json()["id"]
    clock.advance(5)
    assert api.post("/api/v1/tasks/t/trigger", json=body).json() == {"id": first, "isCached": True}


def test_idempotency_key_reset(api: Api) -> None:
    body = {"options": {"idempotencyKey": "r"}}
    first = api.post("/api/v1/tasks/t/trigger", json=body).json()["id"]
    reset = api.post("/api/v1/idempotencyKeys/r/reset", json={"taskIdentifier": "t"})
    assert reset.json() == {"id": "r"}
    assert api.post("/api/v1/tasks/t/trigger", json=body).json()["id"] != first
    missing = api.post("/api/v1/idempotencyKeys/nope/reset", json={"taskIdentifier": "t"})
    assert missing.status_code == 404


def test_request_idempotency_header_replays_the_same_run(emulator: EmulatorServer, api: Api) -> None:
    headers = {"x-trigger-request-idempotency-key": "req-1"}
    first = api.post("/api/v1/tasks/t/trigger", json={"payload": 1}, headers=headers)
    second = api.post("/api/v1/tasks/t/trigger", json={"payload": 1}, headers=headers)
    assert second.json() == {"id": first.json()["id"], "isCached": False}
    assert "x-trigger-jwt" in second.headers
    assert len(emulator.state.runs) == 1
    other_task = api.post("/api/v1/tasks/u/trigger", json={}, headers=headers).json()
    assert other_task["id"] != first.json()["id"]


def test_v1_tasks_batch(api: Api) -> None:
    items = [{"task": "a", "payload": 1}, {"task": "b", "payload": 2, "options": {"idempotencyKey": "bk"}}]
    response = api.post("/api/v1/tasks/batch", json={"items": items})
    assert response.status_code == 202
    body = response.json()
    assert body["id"].startswith("batch_") and body["isCached"] is False
    assert [(r["taskIdentifier"], r["isCached"]) for r in body["runs"]] == [("a", False), ("b", False)]
    assert api.run(body["runs"][0]["id"])["batchId"] == body["id"]
    assert api.run(body["runs"][0]["id"])["triggerFunction"] == "batchTrigger"
    again = api.post(
        "/api/v1/tasks/batch", json={"items": [{"task": "b", "options": {"idempotencyKey": "bk"}}]}
    )
    assert again.json()["runs"][0] == {"id": body["runs"][1]["id"], "taskIdentifier": "b", "isCached": True}


def test_v1_tasks_batch_request_cache_and_limits(emulator: EmulatorServer, api: Api) -> None:
    headers = {"x-trigger-request-idempotency-key": "batch-req"}
    first = api.post("/api/v1/tasks/batch", json={"items": [{"task": "a"}]}, headers=headers).json()
    second = api.post("/api/v1/tasks/batch", json={"items": [{"task": "a"}]}, headers=headers).json()
    assert second["id"] == first["id"] and len(emulator.state.runs) == 1
    empty = api.post("/api/v1/tasks/batch", json={"items": []})
    assert (empty.status_code, empty.json()) == (400, {"error": "Batch cannot be triggered with no items"})
    big = api.post("/api/v1/tasks/batch", json={"items": [{"task": "a", "payload": "x" * 1_100_000}]})
    assert big.status_code == 413


def test_v2_tasks_batch_returns_run_count(api: Api) -> None:
    response = api.post("/api/v2/tasks/batch", json={"items": [{"task": "a"}, {"task": "a"}]})
    assert response.status_code == 202
    assert response.json()["runCount"] == 2


def test_legacy_single_task_batch(api: Api) -> None:
    response = api.post("/api/v1/tasks/solo/batch", json={"items": [{"payload": 1}, {"payload": 2}]})
    body = response.json()
    assert len(body["runs"]) == 2 and body["batchId"].startswith("batch_")
    assert api.run(body["runs"][1])["payload"] == 2
    assert api.post("/api/v1/tasks/solo/batch", json={"items": []}).json() == {"error": "No items to trigger"}
