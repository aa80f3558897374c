"""The two-phase v3 batch API, batch retrieval (v1, v2) and results."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_trigger.emulator import ManualClock

from .conftest import Api

NDJSON = {"Content-Type": "application/x-ndjson"}


def _lines(items: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(i) for i in items)


def _create(api: Api, count: int, **body: Any) -> str:
    response = api.post("/api/v3/batches", json={"runCount": count, **body})
    assert response.status_code == 202, response.text
    batch_id: str = response.json()["id"]
    return batch_id


def test_create_then_stream_items(api: Api, clock: ManualClock) -> None:
    batch_id = _create(api, 2)
    items = [{"index": i, "task": "t", "payload": {"i": i}} for i in range(2)]
    response = api.post(f"/api/v3/batches/{batch_id}/items", data=_lines(items), headers=NDJSON)
    body = response.json()
    assert (body["itemsAccepted"], body["itemsDeduplicated"], body["sealed"]) == (2, 0, True)
    retrieved = api.get(f"/api/v2/batches/{batch_id}").json()
    assert retrieved["runCount"] == 2 and retrieved["runs"] == []
    assert retrieved["status"] == "PROCESSING"
    clock.advance(1)
    retrieved = api.get(f"/api/v2/batches/{batch_id}").json()
    assert len(retrieved["runs"]) == 2
    assert retrieved["processing"] == {"completedAt": retrieved["processingCompletedAt"], "errors": []}
    clock.advance(5)
    v1 = api.get(f"/api/v1/batches/{batch_id}").json()
    assert (v1["status"], v1["successfulRunCount"], v1["failedRunCount"]) == ("COMPLETED", 2, 0)
    results = api.get(f"/api/v1/batches/{batch_id}/results").json()
    assert [json.loads(item["output"])["json"] for item in results["items"]] == [{"i": 0}, {"i": 1}]


def test_items_dedupe_by_index_and_partial_stream_is_unsealed(api: Api, clock: ManualClock) -> None:
    batch_id = _create(api, 3)
    first = api.post(
        f"/api/v3/batches/{batch_id}/items", data=_lines([{"index": 0, "task": "t"}]), headers=NDJSON
    )
    assert first.json()["sealed"] is False
    assert (first.json()["enqueuedCount"], first.json()["expectedCount"]) == (1, 3)
    assert api.get(f"/api/v1/batches/{batch_id}").json()["status"] == "PENDING"
    full = _lines([{"index": i, "task": "t"} for i in range(3)])
    second = api.post(f"/api/v3/batches/{batch_id}/items", data=full, headers=NDJSON).json()
    assert (second["itemsAccepted"], second["itemsDeduplicated"], second["sealed"]) == (2, 1, True)
    third = api.post(f"/api/v3/batches/{batch_id}/items", data=full, headers=NDJSON).json()
    assert (third["itemsAccepted"], third["itemsDeduplicated"], third["sealed"]) == (0, 0, True)
    clock.advance(1)
    assert len(api.get(f"/api/v1/batches/{batch_id}").json()["runs"]) == 3


def test_wrong_content_type_is_415(api: Api) -> None:
    batch_id = _create(api, 1)
    response = api.post(f"/api/v3/batches/{batch_id}/items", json={"index": 0, "task": "t"})
    assert response.status_code == 415


def test_cached_batch_on_body_idempotency_key(api: Api) -> None:
    first = api.post("/api/v3/batches", json={"runCount": 1, "idempotencyKey": "b1"})
    assert first.status_code == 202 and first.json()["idempotencyKey"] == "b1"
    second = api.post("/api/v3/batches", json={"runCount": 1, "idempotencyKey": "b1"})
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "runCount": 1, "isCached": True}
    no_key = api.post(
        "/api/v3/batches", json={"runCount": 1}, headers={"x-trigger-request-idempotency-key": "x"}
    )
    again = api.post(
        "/api/v3/batches", json={"runCount": 1}, headers={"x-trigger-request-idempotency-key": "x"}
    )
    assert no_key.json()["id"] != again.json()["id"]  # the header is ignored here


def test_run_count_limits(api: Api) -> None:
    assert api.post("/api/v3/batches", json={"runCount": 0}).json() == {
        "error": "runCount must be a positive integer"
    }
    too_many = api.post("/api/v3/batches", json={"runCount": 1001})
    assert too_many.status_code == 400


def test_unknown_batch(api: Api) -> None:
    response = api.get("/api/v2/batches/batch_nope")
    assert (response.status_code, response.headers["x-should-retry"]) == (404, "true")
    items = api.post(
        "/api/v3/batches/batch_nope/items", data=_lines([{"index": 0, "task": "t"}]), headers=NDJSON
    )
    assert items.status_code == 422
    bad_line = api.post(f"/api/v3/batches/{_create(api, 1)}/items", data="{oops", headers=NDJSON)
    assert bad_line.status_code == 400
