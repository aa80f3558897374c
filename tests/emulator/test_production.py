"""The emulator's production behaviour by default, over real HTTP (see emulator/README.md)."""

from __future__ import annotations

import json
from typing import Any

import requests

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, RateLimit, TaskBehaviour

from .conftest import Api

NDJSON = {"Content-Type": "application/x-ndjson"}
UNDEPLOYED = "never-deployed-task"


def _lines(items: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(i) for i in items)


def _batch(api: Api, items: list[dict[str, Any]], **body: Any) -> str:
    created = api.post("/api/v3/batches", json={"runCount": len(items), **body})
    assert created.status_code == 202, created.text
    batch_id: str = created.json()["id"]
    streamed = api.post(f"/api/v3/batches/{batch_id}/items", data=_lines(items), headers=NDJSON)
    assert streamed.status_code == 200 and streamed.json()["sealed"] is True, streamed.text
    return batch_id


# ----- deployed tasks and queues ------------------------------------------------------------------
def test_unknown_task_is_accepted_and_waits_in_pending_version_until_its_ttl(
    api: Api, clock: ManualClock
) -> None:
    response = api.post(f"/api/v1/tasks/{UNDEPLOYED}/trigger", json={"payload": {"a": 1}})
    assert response.status_code == 200, response.text
    run_id = response.json()["id"]
    run = api.run(run_id)
    assert (run["status"], run["ttl"], run["isQueued"]) == ("PENDING_VERSION", "10m", True)
    clock.advance(599)
    assert api.run(run_id)["status"] == "PENDING_VERSION"
    clock.advance(2)
    expired = api.run(run_id)
    assert expired["status"] == "EXPIRED"
    assert expired["error"] == {"message": "Run expired because the TTL (10m) was reached"}
    listed = api.get("/api/v1/runs", params={"filter[taskIdentifier]": UNDEPLOYED}).json()["data"]
    assert [r["id"] for r in listed] == [run_id]
    queues = [q["name"] for q in api.get("/api/v1/queues").json()["data"]]
    assert f"task/{UNDEPLOYED}" not in queues  # no deployed version declares its queue


def test_unknown_task_in_prod_has_no_default_ttl(emulator: EmulatorServer, clock: ManualClock) -> None:
    prod = Api(emulator, emulator.keys["prod"])
    run_id = prod.trigger(UNDEPLOYED)
    clock.advance(3 * 86400)
    run = prod.run(run_id)
    assert run["status"] == "PENDING_VERSION" and "ttl" not in run


def test_deploying_the_task_later_starts_the_waiting_run(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    run_id = api.trigger(UNDEPLOYED, {"late": True})
    clock.advance(30)
    assert api.run(run_id)["status"] == "PENDING_VERSION"
    emulator.state.set_task(TaskBehaviour(UNDEPLOYED, output={"ran": True}))
    clock.advance(5)
    run = api.run(run_id)
    assert (run["status"], run["output"]) == ("COMPLETED", {"ran": True})


def test_undeclared_custom_queue_waits_and_a_declared_one_runs(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("queued-task"))
    stuck = api.trigger("queued-task", queue={"name": "undeclared-queue"})
    emulator.state.declare_queue("declared-queue")
    runs = api.trigger("queued-task", queue={"name": "declared-queue"})
    clock.advance(5)
    assert api.run(stuck)["status"] == "PENDING_VERSION"
    assert api.run(runs)["status"] == "COMPLETED"


def test_server_constructor_deploys_tasks_across_resets() -> None:
    with EmulatorServer(tasks=["deployed-a", TaskBehaviour("deployed-b", output=7)]) as emu:
        emu.reset()
        api = Api(emu, emu.secret_key)
        assert emu.state.is_deployed("deployed-a") and emu.state.is_deployed("deployed-b")
        assert not emu.state.is_deployed(UNDEPLOYED)
        run_id = api.trigger("deployed-b")
        emu.state.clock = clock = ManualClock()
        clock.advance(5)
        assert api.run(run_id)["output"] == 7


def test_lenient_runs_any_task_without_rate_limit_headers() -> None:
    # Opts out on purpose: this checks the lenient switch itself.
    with EmulatorServer(lenient=True) as emu:
        api = Api(emu, emu.secret_key)
        response = api.post(f"/api/v1/tasks/{UNDEPLOYED}/trigger", json={"payload": 1})
        assert "x-ratelimit-limit" not in response.headers
        emu.state.clock = clock = ManualClock()
        clock.advance(5)
        assert api.run(response.json()["id"])["status"] == "COMPLETED"


# ----- the v3 batch lifecycle ---------------------------------------------------------------------
def test_batch_is_processing_with_no_runs_then_writes_them_once_in_item_order(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("t", duration=10))
    batch_id = _batch(api, [{"index": i, "task": "t", "payload": {"i": i}} for i in (2, 0, 1)])
    processing = api.get(f"/api/v2/batches/{batch_id}").json()
    assert (processing["status"], processing["runs"]) == ("PROCESSING", [])
    assert "processingCompletedAt" not in processing
    v1 = api.get(f"/api/v1/batches/{batch_id}").json()
    assert "successfulRunCount" not in v1 and v1["runs"] == []
    clock.advance(1)
    processed = api.get(f"/api/v2/batches/{batch_id}").json()
    assert processed["status"] == "PENDING" and processed["processingCompletedAt"]
    payloads = [api.run(r)["payload"] for r in processed["runs"]]
    assert payloads == [{"i": 0}, {"i": 1}, {"i": 2}]
    counts = api.get(f"/api/v1/batches/{batch_id}").json()
    assert (counts["status"], counts["successfulRunCount"], counts["failedRunCount"]) == ("PENDING", 3, 0)
    clock.advance(20)
    assert api.get(f"/api/v2/batches/{batch_id}").json()["status"] == "COMPLETED"


def test_failed_item_becomes_a_system_failure_run_not_a_processing_error(
    api: Api, clock: ManualClock
) -> None:
    tags = [f"tag{i}" for i in range(11)]
    items = [{"index": 0, "task": "t"}, {"index": 1, "task": "t", "options": {"tags": tags}}]
    batch_id = _batch(api, items)  # > 10 tags: accepted by the stream, fails when processed
    clock.advance(1)
    batch = api.get(f"/api/v2/batches/{batch_id}").json()
    assert batch["processing"]["errors"] == [] and len(batch["runs"]) == 2
    failed = api.run(batch["runs"][1])
    assert failed["status"] == "SYSTEM_FAILURE"
    assert failed["error"] == {"message": "trigger.dev internal error (BATCH_ITEM_COULD_NOT_TRIGGER)"}
    clock.advance(5)
    assert api.get(f"/api/v1/batches/{batch_id}").json()["status"] == "COMPLETED"


def test_oversized_item_becomes_a_payload_too_large_run(api: Api, clock: ManualClock) -> None:
    big = {"index": 0, "task": "t", "payload": "x" * (3 * 1024 * 1024 + 10)}
    batch_id = _batch(api, [big])
    clock.advance(1)
    run_id = api.get(f"/api/v2/batches/{batch_id}").json()["runs"][0]
    assert api.run(run_id)["error"] == {"message": "trigger.dev internal error (PAYLOAD_TOO_LARGE)"}


def test_items_over_the_queue_size_limit_abort_the_batch_with_one_error_row(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.config.queue_size_limit = 0
    batch_id = _batch(api, [{"index": i, "task": "t"} for i in range(3)])
    clock.advance(1)
    v2 = api.get(f"/api/v2/batches/{batch_id}").json()
    assert (v2["status"], v2["runs"]) == ("ABORTED", [])
    [error] = v2["processing"]["errors"]
    assert error["errorCode"] == "QUEUE_SIZE_LIMIT_EXCEEDED"
    assert error["error"].endswith("(3 items in this batch failed with the same error)")
    v1 = api.get(f"/api/v1/batches/{batch_id}").json()
    assert (v1["successfulRunCount"], v1["failedRunCount"]) == (0, 3)


def test_item_index_edge_cases(api: Api, clock: ManualClock) -> None:
    created = api.post("/api/v3/batches", json={"runCount": 2}).json()["id"]
    out_of_range = api.post(
        f"/api/v3/batches/{created}/items", data=_lines([{"index": 2, "task": "t"}]), headers=NDJSON
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["error"] == "Item index 2 exceeds batch runCount 2"
    items = _lines([{"index": i, "task": "t"} for i in range(2)])
    api.post(f"/api/v3/batches/{created}/items", data=items, headers=NDJSON)
    again = api.post(f"/api/v3/batches/{created}/items", data=items, headers=NDJSON).json()
    assert (again["itemsAccepted"], again["itemsDeduplicated"], again["sealed"]) == (0, 0, True)


def test_batch_idempotency_key_is_unique_per_environment(emulator: EmulatorServer, api: Api) -> None:
    first = api.post(
        "/api/v3/batches", json={"runCount": 1, "idempotencyKey": "k1", "taskIdentifiers": ["t"]}
    )
    assert first.status_code == 202
    cached = api.post(
        "/api/v3/batches", json={"runCount": 1, "idempotencyKey": "k1", "taskIdentifiers": ["t"]}
    )
    assert cached.json()["isCached"] is True
    other_tasks = api.post(
        "/api/v3/batches", json={"runCount": 1, "idempotencyKey": "k1", "taskIdentifiers": ["other"]}
    )
    assert other_tasks.status_code == 422
    assert "already been created with the same idempotency key" in other_tasks.json()["error"]
    emulator.state.stores.request_cache.clear()  # the 24 h request cache expired
    after = api.post(
        "/api/v3/batches", json={"runCount": 1, "idempotencyKey": "k1", "taskIdentifiers": ["t"]}
    )
    assert after.status_code == 422
    staging = Api(emulator, emulator.keys["staging"])
    assert staging.post("/api/v3/batches", json={"runCount": 1, "idempotencyKey": "k1"}).status_code == 202


# ----- rate limits --------------------------------------------------------------------------------
def test_rest_limiter_is_on_with_production_numbers(emulator: EmulatorServer, api: Api) -> None:
    response = api.get("/api/v1/runs")
    assert response.headers["x-ratelimit-limit"] == "750"
    assert int(response.headers["x-ratelimit-reset"]) > 10**12  # epoch milliseconds
    bare = requests.get(f"{emulator.base_url}/api/v1/runs", timeout=10)
    assert bare.status_code == 401 and bare.headers["content-type"] == "application/problem+json"
    assert bare.json()["detail"] == "No authorization header provided"


def test_rest_limiter_is_per_environment(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.rate_limit = RateLimit(burst=2, refill=1, interval=60)
    assert [api.get("/api/v1/runs").status_code for _ in range(3)] == [200, 200, 429]
    assert Api(emulator, emulator.keys["prod"]).get("/api/v1/runs").status_code == 200


def test_public_jwts_get_sixty_requests_a_minute_each(emulator: EmulatorServer, api: Api) -> None:
    triggered = api.post("/api/v1/tasks/t/trigger", json={})
    run_id, jwt = triggered.json()["id"], Api(emulator, triggered.headers["x-trigger-jwt"])
    statuses = [jwt.get(f"/api/v3/runs/{run_id}").status_code for _ in range(61)]
    # The emulator's /api routes take no JWT (only realtime does), but the limiter counts them first.
    assert statuses == [401] * 60 + [429]
    assert jwt.get("/api/v1/runs").headers["x-ratelimit-limit"] == "60"
    assert api.get(f"/api/v3/runs/{run_id}").status_code == 200  # the secret key's bucket is apart


def test_batch_limiter_counts_items_and_resets_in_epoch_seconds(api: Api) -> None:
    assert api.post("/api/v3/batches", json={"runCount": 1000}).status_code == 202
    limited = api.post("/api/v3/batches", json={"runCount": 1000})
    assert limited.status_code == 429
    assert limited.json()["error"].startswith("Batch rate limit exceeded. Limit resets at ")
    headers = limited.headers
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("1200", "200")
    assert 10**9 < int(headers["X-RateLimit-Reset"]) < 10**10  # epoch seconds
    assert 1 <= int(headers["Retry-After"]) <= 10
    assert api.post("/api/v3/batches", json={"runCount": 200}).status_code == 202


# ----- debounce, list lag, errors, small things ---------------------------------------------------
def test_debounce_returns_the_same_run_and_pushes_it_back(api: Api, clock: ManualClock) -> None:
    options = {"debounce": {"key": "user-1", "delay": "10s"}}
    first = api.post("/api/v1/tasks/t/trigger", json={"payload": 1, "options": options}).json()
    clock.advance(5)
    second = api.post("/api/v1/tasks/t/trigger", json={"payload": 2, "options": options}).json()
    assert second == {"id": first["id"], "isCached": False}
    run = api.run(first["id"])
    assert run["status"] == "DELAYED"
    clock.advance(6)
    assert api.run(first["id"])["status"] == "DELAYED"  # pushed back to 15 s after the first
    clock.advance(10)
    assert api.run(first["id"])["status"] == "COMPLETED"
    other = api.post("/api/v1/tasks/t/trigger", json={"options": options}).json()
    assert other["id"] != first["id"]  # the run left DELAYED: a new one


def test_debounce_bad_window_is_422(api: Api) -> None:
    bad = {"debounce": {"key": "k", "delay": "10s", "maxDelay": "5s"}}
    response = api.post("/api/v1/tasks/t/trigger", json={"options": bad})
    assert response.status_code == 422
    assert "must be longer than debounce.delay" in response.json()["error"]
    dated = api.post(
        "/api/v1/tasks/t/trigger", json={"options": {"debounce": {"key": "k", "delay": "2030-01-01"}}}
    )
    assert dated.status_code == 422


def test_runs_list_lags_behind_retrieve(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("t")
    assert api.run(run_id)["status"] == "QUEUED"
    assert api.get("/api/v1/runs").json()["data"] == []
    clock.advance(1.0)
    listed = api.get("/api/v1/runs").json()["data"]
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "QUEUED")]
    assert api.run(run_id)["status"] == "COMPLETED"  # retrieve is ahead of the list


def test_error_field_for_canceled_and_internal_failures(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("crashes", outcome="CRASHED", error="segfault"))
    canceled = api.trigger("t", delay="1h")
    api.post(f"/api/v2/runs/{canceled}/cancel")
    crashed = api.trigger("crashes")
    clock.advance(5)
    assert api.run(canceled)["error"] == {"message": "Canceled by user"}
    crash_error = api.run(crashed)["error"]
    assert crash_error == {"message": "trigger.dev internal error (TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE)"}


def test_replay_keeps_metadata_and_concurrency_key(emulator: EmulatorServer, api: Api) -> None:
    original = api.trigger("t", {"x": 1}, metadata={"step": 3}, concurrencyKey="tenant-7")
    replayed = api.post(f"/api/v1/runs/{original}/replay").json()["id"]
    assert api.run(replayed)["metadata"] == {"step": 3}
    assert api.run(replayed)["payload"] == {"x": 1}
    assert emulator.state.runs[replayed].concurrency_key == "tenant-7"  # not in the API's run object


def test_lock_to_unknown_version_is_422(api: Api) -> None:
    unknown = api.post("/api/v1/tasks/t/trigger", json={"options": {"lockToVersion": "20990101.9"}})
    assert unknown.status_code == 422
    assert unknown.json()["error"] == (
        "Task locked to version '20990101.9', but no worker found with that version."
    )
    known = api.post("/api/v1/tasks/t/trigger", json={"options": {"lockToVersion": "20260101.1"}})
    assert known.status_code == 200


def test_schedule_upserted_from_another_environment_moves_there(emulator: EmulatorServer, api: Api) -> None:
    body = {"task": "t", "cron": "0 * * * *", "deduplicationKey": "moving"}
    first = api.post("/api/v1/schedules", json=body).json()
    prod = Api(emulator, emulator.keys["prod"])
    assert prod.post("/api/v1/schedules", json=body).json()["id"] == first["id"]
    assert [s["id"] for s in prod.get("/api/v1/schedules").json()["data"]] == [first["id"]]
    assert api.get("/api/v1/schedules").json()["data"] == []


def test_item_locked_to_an_unknown_version_becomes_a_failed_run(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("t", queue_time=30))
    items = [{"index": 0, "task": "t", "options": {"lockToVersion": "20990101.1"}}, {"index": 1, "task": "t"}]
    batch_id = _batch(api, items)
    clock.advance(1)
    runs = api.get(f"/api/v2/batches/{batch_id}").json()["runs"]
    assert [api.run(r)["status"] for r in runs] == ["SYSTEM_FAILURE", "QUEUED"]


def test_some_items_over_the_queue_limit_make_the_batch_partial_failed_then_completed(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.config.queue_size_limit = 1
    emulator.state.set_task(TaskBehaviour("t", duration=3))
    batch_id = _batch(api, [{"index": i, "task": "t"} for i in range(3)])
    clock.advance(1)
    v1 = api.get(f"/api/v1/batches/{batch_id}").json()
    assert (v1["status"], len(v1["runs"]), v1["successfulRunCount"], v1["failedRunCount"]) == (
        "PARTIAL_FAILED",
        1,
        1,
        2,
    )
    assert [e["index"] for e in v1["errors"]] == [1]  # one row for the queue-limit failures
    clock.advance(5)
    assert api.get(f"/api/v1/batches/{batch_id}").json()["status"] == "COMPLETED"
