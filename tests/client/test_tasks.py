"""tasks.trigger and tasks.batch_trigger: the body on the wire, idempotency hashing, the NDJSON stream."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_trigger.client import (
    BatchNotSealedError,
    RetryOptions,
    TriggerClient,
    batch_item_key,
    hash_key,
    make_key,
)
from airflow_provider_trigger.emulator import EmulatorServer
from tests.client.conftest import Scripted


def _last(emulator: EmulatorServer, suffix: str = "/trigger") -> dict:
    return [r for r in emulator.requests.all() if r.path.endswith(suffix)][-1].json


def test_idempotency_hash_matches_the_sdk() -> None:
    # SDK: sha256(keyArray.join("-")) outside a task; 64-char strings pass through.
    assert hash_key(["order-42"]) == hashlib.sha256(b"order-42").hexdigest()
    assert make_key(["a", "b"]) == (hashlib.sha256(b"a-b").hexdigest(), {"key": "a-b", "scope": "run"})
    hashed = "f" * 64
    assert make_key(hashed) == (hashed, None)
    assert batch_item_key("batch-1", 3) == hashlib.sha256(b"batch-1-3").hexdigest()
    assert make_key(None) == (None, None)


def test_trigger_sends_every_option_in_camel_case(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger(
        "hello-world",
        {"name": "x"},
        queue="critical",
        concurrency_key="user-1",
        idempotency_key="order-42",
        idempotency_key_ttl="1h",
        delay=datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        ttl="10m",
        tags=["a", "b"],
        max_attempts=3,
        max_duration=600,
        metadata={"m": 1},
        machine="small-1x",
        version="20260101.1",
        priority=10,
        region="eu",
        test=True,
    )
    body = _last(emulator)
    assert body == {
        "payload": {"name": "x"},
        "options": {
            "queue": {"name": "critical"},
            "concurrencyKey": "user-1",
            "payloadType": "application/json",
            "idempotencyKey": hashlib.sha256(b"order-42").hexdigest(),
            "idempotencyKeyTTL": "1h",
            "idempotencyKeyOptions": {"key": "order-42", "scope": "run"},
            "delay": "2030-01-02T03:04:05.678Z",
            "ttl": "10m",
            "tags": ["a", "b"],
            "maxAttempts": 3,
            "maxDuration": 600,
            "metadata": {"m": 1},
            "machine": "small-1x",
            "lockToVersion": "20260101.1",
            "priority": 10,
            "region": "eu",
            "test": True,
        },
    }


def test_unset_options_are_omitted_not_null(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", {"a": 1})
    assert _last(emulator) == {"payload": {"a": 1}, "options": {"payloadType": "application/json"}}


def test_none_payload_sends_no_payload(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world")
    assert "payload" not in _last(emulator)


def test_string_payload_is_sent_as_a_json_string(client: TriggerClient, emulator: EmulatorServer) -> None:
    handle = client.tasks.trigger("hello-world", "just text")
    assert _last(emulator)["payload"] == "just text"
    assert client.runs.retrieve(handle.id).payload == "just text"


def test_same_idempotency_key_returns_the_cached_run(client: TriggerClient) -> None:
    first = client.tasks.trigger("hello-world", {"n": 1}, idempotency_key="once")
    second = client.tasks.trigger("hello-world", {"n": 2}, idempotency_key="once")
    assert not first.is_cached and second.is_cached
    assert second.id == first.id


def test_prehashed_key_sent_as_is(client: TriggerClient, emulator: EmulatorServer) -> None:
    key = hashlib.sha256(b"from-typescript").hexdigest()
    client.tasks.trigger("hello-world", {}, idempotency_key=key)
    options = _last(emulator)["options"]
    assert options["idempotencyKey"] == key and "idempotencyKeyOptions" not in options


@pytest.mark.parametrize(("task", "encoded"), [("my task", "my%20task"), ("group/task", "group%2Ftask")])
def test_task_identifier_is_path_encoded(scripted: Scripted, task: str, encoded: str) -> None:
    scripted.add(200, {"id": "run_1"})
    TriggerClient("tr_dev_x", base_url=scripted.base_url).tasks.trigger(task, {})
    assert scripted.received[0]["path"] == f"/api/v1/tasks/{encoded}/trigger"


def test_batch_trigger_two_phases_and_run_ids(client: TriggerClient, emulator: EmulatorServer) -> None:
    items: list[dict[str, Any]] = [{"payload": {"i": i}} for i in range(5)]
    items.append({"payload": {"i": 5}, "options": {"idempotency_key": "own", "tags": "t"}})
    result = client.tasks.batch_trigger("hello-world", items, idempotency_key="batch-1")
    assert result.batch_id.startswith("batch_") and result.run_count == 6
    assert result.run_ids == []  # returned at once, as the SDK does: no run ids before processing
    create, stream = (r for r in emulator.requests.all() if r.method == "POST")
    assert create.path == "/api/v3/batches"
    assert create.json == {
        "runCount": 6,
        "taskIdentifiers": ["hello-world"],
        "idempotencyKey": hash_key(["batch-1"]),
        "idempotencyKeyOptions": {"key": "batch-1", "scope": "run"},
    }
    assert stream.path == f"/api/v3/batches/{result.id}/items"
    assert stream.headers["content-type"] == "application/x-ndjson"
    assert stream.headers.get("transfer-encoding") == "chunked"  # streamed, not one buffered body
    lines = [json.loads(line) for line in stream.body.splitlines()]
    assert [line["index"] for line in lines] == list(range(6))
    assert lines[0]["options"]["idempotencyKey"] == batch_item_key("batch-1", 0)
    assert "idempotencyKeyOptions" not in lines[0]["options"]
    assert lines[5]["options"]["idempotencyKey"] == hash_key(["own"])
    assert lines[5]["options"]["idempotencyKeyOptions"] == {"key": "own", "scope": "run"}
    assert lines[5]["options"]["tags"] == ["t"]
    assert len(emulator.requests) == 2  # create + items: nothing claims run ids it cannot have


def test_cached_batch_skips_the_item_stream(client: TriggerClient, emulator: EmulatorServer) -> None:
    first = client.tasks.batch_trigger("hello-world", [{"payload": 1}], idempotency_key="same")
    emulator.requests.clear()
    second = client.tasks.batch_trigger("hello-world", [{"payload": 1}], idempotency_key="same")
    assert second.is_cached and second.id == first.id
    assert not [r for r in emulator.requests.all() if r.path.endswith("/items")]


def test_batch_waiting_until_processed_gets_run_ids_in_item_order(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    result = client.tasks.batch_trigger(
        "hello-world", [{"payload": i} for i in range(50)], wait_until_processed=30
    )
    assert result.run_count == 50 and len(set(result.run_ids)) == 50
    assert [client.runs.retrieve(r).payload for r in result.run_ids] == list(range(50))


def test_unsealed_stream_is_resent_then_raises(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(202, {"id": "batch_1", "runCount": 2, "isCached": False})
    unsealed = {
        "id": "batch_1",
        "itemsAccepted": 1,
        "itemsDeduplicated": 0,
        "sealed": False,
        "enqueuedCount": 1,
        "expectedCount": 2,
    }
    scripted.add(200, unsealed)
    scripted.add(200, {**unsealed, "itemsAccepted": 0, "itemsDeduplicated": 1})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append, retry=RetryOptions(2))
    with pytest.raises(BatchNotSealedError) as info:
        client.tasks.batch_trigger("t", [{"payload": 1}, {"payload": 2}])
    assert info.value.batch_id == "batch_1"
    streams = [r for r in scripted.received if r["path"].endswith("/items")]
    assert len(streams) == 2 and streams[0]["body"] == streams[1]["body"]


def test_unsealed_then_sealed_succeeds(scripted: Scripted, sleeps: list[float]) -> None:
    scripted.add(202, {"id": "batch_1", "runCount": 1, "isCached": False})
    scripted.add(200, {"id": "batch_1", "itemsAccepted": 0, "itemsDeduplicated": 0, "sealed": False})
    scripted.add(200, {"id": "batch_1", "itemsAccepted": 1, "itemsDeduplicated": 0, "sealed": True})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url, sleep=sleeps.append)
    result = client.tasks.batch_trigger("t", [{"payload": 1}])
    assert (result.id, result.run_ids) == ("batch_1", []) and sleeps == [1.0]
    assert len(scripted.received) == 3


def test_batch_over_1000_items_refused(client: TriggerClient, emulator: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="1000"):
        client.tasks.batch_trigger("hello-world", [{"payload": i} for i in range(1001)])
    assert len(emulator.requests) == 0


def test_task_identifier_with_a_slash_reaches_the_task(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    handle = client.tasks.trigger("group/task", {"n": 1})
    assert client.runs.retrieve(handle.id).task_identifier == "group/task"
