"""Realtime feeds over real HTTP: the Electric shape long-poll protocol and its knobs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour

from .conftest import Api

ELECTRIC = {"x-trigger-electric-version": "1.0.0-beta.1"}


class Shape:
    """A minimal protocol follower (offset/handle/live/cursor), recording every response."""

    def __init__(self, api: Api, path: str, **params: str) -> None:
        self.api, self.path, self.params = api, path, params
        self.handle: str | None = None
        self.offset, self.cursor, self.up_to_date = "-1", "", False
        self.rows: dict[str, dict[str, Any]] = {}
        self.responses: list[requests.Response] = []

    def poll(self) -> list[dict[str, Any]]:
        query = {**self.params, "offset": self.offset}
        if self.handle:
            query["handle"] = self.handle
        if self.up_to_date:
            query |= {"live": "true", "cursor": self.cursor}
        response = self.api.get(self.path, params=query, headers=ELECTRIC)
        self.responses.append(response)
        assert response.status_code == 200, response.text
        self.handle = response.headers["electric-handle"]
        self.offset = response.headers["electric-offset"]
        self.cursor = response.headers.get("electric-cursor", self.cursor)
        messages: list[dict[str, Any]] = response.json()
        for message in messages:
            if "key" in message:
                self.rows[message["key"]] = {**self.rows.get(message["key"], {}), **message["value"]}
            elif message["headers"].get("control") == "up-to-date":
                self.up_to_date = True
        return messages

    def until(self, predicate: Any, limit: int = 50) -> dict[str, Any]:
        for _ in range(limit):
            self.poll()
            for row in self.rows.values():
                if predicate(row):
                    return row
        raise AssertionError("condition never met")


@pytest.fixture(autouse=True)
def short_hold(emulator: EmulatorServer) -> None:
    emulator.state.config.realtime_hold_timeout = 0.3


def test_single_run_native_protocol(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.3))
    run_id = api.trigger("rt", {"a": 1}, tags=["x"])
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    first = shape.poll()
    response = shape.responses[0]
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.headers["electric-schema"])["runTags"] == {"type": "text", "dims": 1}
    assert "electric-cursor" not in response.headers
    assert [m["headers"] for m in first] == [{"operation": "insert"}, {"control": "up-to-date"}]
    row = first[0]["value"]
    assert first[0]["key"] == f'"public"."TaskRun"/"{row["id"]}"'
    assert (row["friendlyId"], row["status"], row["isTest"], row["runTags"]) == (
        run_id,
        "PENDING",
        "f",
        '{"x"}',
    )
    assert json.loads(row["payload"]) == {"a": 1} and row["payloadType"] == "application/json"
    assert "T" in row["createdAt"] and not row["createdAt"].endswith("Z")
    assert all(v is None or isinstance(v, str) for v in row.values())
    done = shape.until(lambda r: r["completedAt"] is not None)
    assert (done["status"], json.loads(done["output"])) == ("COMPLETED_SUCCESSFULLY", {"json": {"a": 1}})
    assert done["outputType"] == "application/super+json"
    live = shape.responses[-1]
    assert "electric-cursor" in live.headers and "electric-schema" not in live.headers
    assert len(shape.responses) <= 5


def test_quiet_live_request_is_held_then_up_to_date(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=60))
    run_id = api.trigger("slow")
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    shape.until(lambda r: r["status"] == "EXECUTING")
    offset = shape.offset
    started = time.monotonic()
    assert shape.poll() == [{"headers": {"control": "up-to-date"}}]
    assert time.monotonic() - started >= 0.25
    assert shape.offset == offset


def test_finished_run_at_subscribe_time(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("fast", duration=0, queue_time=0, fail="bad"))
    run_id = api.trigger("fast")
    time.sleep(0.01)
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    row = shape.poll()[0]["value"]
    assert row["status"] == "COMPLETED_WITH_ERRORS" and row["completedAt"] is not None
    assert (
        json.loads(row["error"])["message"] == "bad" and json.loads(row["error"])["type"] == "BUILT_IN_ERROR"
    )


def test_metadata_change_wakes_a_live_request(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("long", duration=60, queue_time=0))
    emulator.state.config.realtime_hold_timeout = 5
    run_id = api.trigger("long")
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    shape.until(lambda r: r["status"] == "EXECUTING")
    threading.Timer(
        0.2, lambda: api.put(f"/api/v1/runs/{run_id}/metadata", json={"metadata": {"p": 50}})
    ).start()
    started = time.monotonic()
    messages = shape.poll()
    assert time.monotonic() - started < 2
    assert json.loads(messages[0]["value"]["metadata"]) == {"p": 50}


def test_electric_mode_partial_updates_and_timestamps(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.realtime_electric_mode = True
    emulator.state.config.realtime_partial_updates = True
    emulator.state.set_task(TaskBehaviour("el", duration=0.2))
    run_id = api.trigger("el")
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    first = shape.poll()
    assert [m["headers"] for m in first] == [{"operation": "insert"}]  # no up-to-date on offset=-1
    assert " " in first[0]["value"]["createdAt"] and "T" not in first[0]["value"]["createdAt"]
    catch_up = shape.poll()
    assert catch_up[-1] == {"headers": {"control": "up-to-date"}}
    assert "electric-up-to-date" in shape.responses[-1].headers
    assert "electric-schema" in shape.responses[-1].headers
    shape.until(lambda r: r.get("completedAt") is not None)
    updates = [m for r in shape.responses[2:] for m in r.json() if "key" in m]
    assert updates and all(m["headers"]["operation"] == "update" for m in updates)
    assert all("payload" not in m["value"] and "id" in m["value"] for m in updates)
    assert shape.rows[next(iter(shape.rows))]["status"] == "COMPLETED_SUCCESSFULLY"


def test_electric_mode_unknown_position_is_409(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.realtime_electric_mode = True
    run_id = api.trigger("x")
    response = api.get(
        f"/realtime/v1/runs/{run_id}", params={"offset": "5_5", "handle": "h1"}, headers=ELECTRIC
    )
    assert response.status_code == 409
    assert response.json() == [{"headers": {"control": "must-refetch"}}]
    assert response.headers["electric-handle"] == "h1-next"


def test_must_refetch_fault_then_recovery(emulator: EmulatorServer, api: Api) -> None:
    run_id = api.trigger("x")
    shape = Shape(api, f"/realtime/v1/runs/{run_id}")
    shape.poll()
    emulator.faults.inject("GET", "/realtime/*", kind="must_refetch")
    query = {"offset": shape.offset, "handle": shape.handle or "", "live": "true", "cursor": ""}
    refetch = api.get(f"/realtime/v1/runs/{run_id}", params=query, headers=ELECTRIC)
    assert refetch.status_code == 409 and refetch.json() == [{"headers": {"control": "must-refetch"}}]
    new_handle = refetch.headers["electric-handle"]
    assert new_handle == f"{shape.handle}-next"
    again = api.get(
        f"/realtime/v1/runs/{run_id}", params={"offset": "-1", "handle": new_handle}, headers=ELECTRIC
    )
    assert again.status_code == 200 and again.headers["electric-handle"] == new_handle
    assert again.json()[0]["headers"] == {"operation": "insert"}


def test_live_limit_per_environment(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.realtime_live_limit = 1
    emulator.state.config.realtime_hold_timeout = 1.0
    emulator.state.set_task(TaskBehaviour("hold", duration=60))
    run_id = api.trigger("hold")
    shapes = [Shape(Api(emulator, emulator.secret_key), f"/realtime/v1/runs/{run_id}") for _ in range(2)]
    for shape in shapes:
        shape.until(lambda r: r["status"] == "EXECUTING")  # initial requests are not counted
    holder = threading.Thread(target=shapes[0].poll)
    holder.start()
    time.sleep(0.2)
    query = {"offset": shapes[1].offset, "handle": shapes[1].handle or "", "live": "true", "cursor": ""}
    limited = api.get(f"/realtime/v1/runs/{run_id}", params=query, headers=ELECTRIC)
    holder.join()
    assert (limited.status_code, limited.json()) == (429, {"error": "Too many concurrent requests"})
    prod = Api(emulator, emulator.keys["prod"])
    prod_run = prod.trigger("hold")
    assert prod.get(f"/realtime/v1/runs/{prod_run}", params={"offset": "-1"}).status_code == 200
    stats = emulator.state.realtime.stats()
    assert stats["peakLive"] == 1 and stats["rejected"] == 1


def test_tag_feed_contains_all_tags_and_sees_new_runs(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.config.realtime_hold_timeout = 3
    both = api.trigger("a", tags=["dag:1", "team"])
    api.trigger("a", tags=["dag:1"])
    shape = Shape(api, "/realtime/v1/runs", tags="dag:1,team")
    first = shape.poll()
    assert [m["value"]["friendlyId"] for m in first if "key" in m] == [both]
    assert shape.handle and shape.handle.startswith("runs_")
    threading.Timer(0.2, lambda: api.trigger("b", tags=["team", "dag:1", "extra"])).start()
    messages: list[dict[str, Any]] = []
    while not [m for m in messages if m.get("headers", {}).get("operation") == "insert"]:
        messages = shape.poll()
    inserted = [
        m["value"]["friendlyId"] for m in messages if m.get("headers", {}).get("operation") == "insert"
    ]
    assert len(inserted) == 1 and inserted[0] != both


def test_tag_feed_validation_and_window(api: Api) -> None:
    bad = api.get("/realtime/v1/runs", params={"offset": "-1", "tags": 'a,"b'}, headers=ELECTRIC)
    assert (bad.status_code, bad.json()["error"]) == (400, "Query Error")
    assert api.get("/realtime/v1/runs", params={"offset": "-1", "tags": "a,,b"}).status_code == 400
    api.trigger("a", tags=["w"])
    windowed = api.get(
        "/realtime/v1/runs", params={"offset": "-1", "tags": "w", "createdAt": "1h"}, headers=ELECTRIC
    )
    assert len([m for m in windowed.json() if "key" in m]) == 1


def test_batch_feed(api: Api) -> None:
    batch_id = api.post("/api/v3/batches", json={"runCount": 2}).json()["id"]
    shape = Shape(api, f"/realtime/v1/batches/{batch_id}")
    assert [m for m in shape.poll() if "key" in m] == []
    lines = "\n".join(json.dumps({"index": i, "task": "t"}) for i in range(2))
    api.post(
        f"/api/v3/batches/{batch_id}/items", data=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    for _ in range(20):
        shape.poll()
        if len(shape.rows) == 2 and all(r["completedAt"] for r in shape.rows.values()):
            break
    assert {r["status"] for r in shape.rows.values()} == {"COMPLETED_SUCCESSFULLY"}
    missing = api.get("/realtime/v1/batches/batch_nope", params={"offset": "-1"})
    assert (missing.status_code, missing.headers["x-should-retry"]) == (404, "true")


def test_unknown_run_is_404_without_retry(api: Api) -> None:
    response = api.get("/realtime/v1/runs/run_nope", params={"offset": "-1"})
    assert (response.status_code, response.json(), response.headers["x-should-retry"]) == (
        404,
        {"error": "Not found"},
        "false",
    )


def test_auth_secret_jwt_and_pat(emulator: EmulatorServer, api: Api) -> None:
    response = api.post("/api/v1/tasks/t/trigger", json={})
    run_id, jwt = response.json()["id"], response.headers["x-trigger-jwt"]
    other = api.trigger("t")
    path, params = f"/realtime/v1/runs/{run_id}", {"offset": "-1"}
    assert Api(emulator, jwt).get(path, params=params).status_code == 200
    forbidden = Api(emulator, jwt).get(f"/realtime/v1/runs/{other}", params=params)
    assert (forbidden.status_code, forbidden.json()["error"]) == (403, "Unauthorized")
    tampered = Api(emulator, jwt[:-3] + "abc").get(path, params=params)
    assert (tampered.status_code, tampered.json()) == (401, {"error": "Public Access Token is invalid"})
    pat = Api(emulator, emulator.pat).get(path, params=params)
    assert (pat.status_code, pat.json()) == (401, {"error": "Invalid API key"})
    assert Api(emulator, None).get(path, params=params).status_code == 401
    exchanged = Api(emulator, emulator.pat).post(
        f"/api/v1/projects/{emulator.project_ref}/dev/jwt", json={"claims": {"scopes": ["read:runs"]}}
    )
    assert Api(emulator, exchanged.json()["token"]).get(path, params=params).status_code == 200
    minted = api.post("/api/v1/auth/jwt", json={"claims": {"scopes": ["read:tasks:t"]}}).json()["token"]
    assert Api(emulator, minted).get(f"/realtime/v1/runs/{other}", params=params).status_code == 200


def test_legacy_header_names_and_shape_id(api: Api) -> None:
    run_id = api.trigger("x")
    first = api.get(f"/realtime/v1/runs/{run_id}", params={"offset": "-1"})
    assert "electric-shape-id" in first.headers and "electric-chunk-last-offset" in first.headers
    assert "electric-handle" not in first.headers
    again = api.get(
        f"/realtime/v1/runs/{run_id}",
        params={
            "offset": first.headers["electric-chunk-last-offset"],
            "shape_id": first.headers["electric-shape-id"],
        },
    )
    assert again.status_code == 200


def test_protocol_errors(api: Api) -> None:
    run_id = api.trigger("x")
    live_initial = api.get(
        f"/realtime/v1/runs/{run_id}", params={"offset": "-1", "live": "true"}, headers=ELECTRIC
    )
    assert live_initial.status_code == 400 and "live" in live_initial.json()["errors"]
    no_handle = api.get(f"/realtime/v1/runs/{run_id}", params={"offset": "1_1"}, headers=ELECTRIC)
    assert no_handle.status_code == 400 and "handle" in no_handle.json()["errors"]


def test_skip_columns_keeps_reserved(api: Api) -> None:
    run_id = api.trigger("x", {"big": "x" * 100})
    response = api.get(
        f"/realtime/v1/runs/{run_id}",
        params={"offset": "-1", "skipColumns": "payload,status,metadata"},
        headers=ELECTRIC,
    )
    row = response.json()[0]["value"]
    assert "payload" not in row and "metadata" not in row and row["status"] == "PENDING"
    assert "payload" not in json.loads(response.headers["electric-schema"])
