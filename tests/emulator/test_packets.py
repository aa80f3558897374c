"""Packets: large outputs and payloads are offloaded and served through presigned-style URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour
from airflow_provider_trigger.emulator.packets import OUTPUT_OFFLOAD_BYTES, PRESIGN_EXPIRES

from .conftest import Api

BIG = "x" * (300 * 1024)


def _done(api: Api, clock: ManualClock, run_id: str) -> dict[str, object]:
    clock.advance(5)
    return api.run(run_id)


def test_small_output_stays_inline_and_is_stored_as_superjson(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    run = _done(api, clock, api.trigger("hello", {"a": 1}))
    assert run["output"] == {"a": 1} and "outputPresignedUrl" not in run
    stored = emulator.state.runs[str(run["id"])]
    assert (stored.output_type, stored.output) == ("application/super+json", '{"json":{"a":1}}')


def test_large_output_is_offloaded_and_served_by_a_presigned_url(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    run_id = api.trigger("big", {"a": 1})
    run = _done(api, clock, run_id)
    assert "output" not in run and run["payload"] == {"a": 1}
    url = str(run["outputPresignedUrl"])
    parts = urlsplit(url)
    assert url.startswith(emulator.base_url + "/objects/packets/")
    assert parts.path.endswith(f"/dev/{run_id}-1/output.json")
    query = dict(parse_qsl(parts.query))
    assert query["X-Amz-Expires"] == str(PRESIGN_EXPIRES) and len(query["X-Amz-Signature"]) == 64
    got = requests.get(url, timeout=10)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/super+json"
    assert json.loads(got.content) == {"json": {"blob": BIG}}


def test_the_threshold_is_128_kb_of_the_superjson_string(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    overhead = len('{"json":{"k":""}}')
    emulator.state.set_task(TaskBehaviour("under", output={"k": "y" * (OUTPUT_OFFLOAD_BYTES - overhead - 1)}))
    assert "output" in _done(api, clock, api.trigger("under"))
    emulator.state.set_task(TaskBehaviour("at", output={"k": "y" * (OUTPUT_OFFLOAD_BYTES - overhead)}))
    assert "outputPresignedUrl" in _done(api, clock, api.trigger("at"))


def test_datetimes_get_superjson_date_meta(api: Api, emulator: EmulatorServer, clock: ManualClock) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    emulator.state.set_task(TaskBehaviour("dated", output={"when": when, "blob": BIG}))
    run = _done(api, clock, api.trigger("dated"))
    document = requests.get(str(run["outputPresignedUrl"]), timeout=10).json()
    assert document["json"]["when"] == "2026-01-02T03:04:05.000Z"
    assert document["meta"] == {"values": {"when": ["Date"]}}


def test_large_payload_is_offloaded_keeping_its_type(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("echo-size", output=lambda p: len(p["blob"])))
    payload = {"blob": "p" * (600 * 1024)}
    run_id = api.trigger("echo-size", payload)
    run = _done(api, clock, run_id)
    assert "payload" not in run and run["output"] == 600 * 1024  # the task still saw the payload
    got = requests.get(str(run["payloadPresignedUrl"]), timeout=10)
    assert got.headers["content-type"] == "application/json" and got.json() == payload
    assert urlsplit(str(run["payloadPresignedUrl"])).path.endswith(f"/{run_id}/payload.json")


def test_realtime_row_carries_the_store_path(api: Api, emulator: EmulatorServer, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    run_id = api.trigger("big")
    clock.advance(5)
    rows = api.get(f"/realtime/v1/runs/{run_id}?offset=-1", headers={"x-trigger-electric-version": "1"})
    row = next(m["value"] for m in rows.json() if "value" in m)
    assert (row["output"], row["outputType"]) == (f"{run_id}-1/output.json", "application/store")
    presigned = api.get(f"/api/v1/packets/{row['output']}").json()["presignedUrl"]
    assert requests.get(presigned, timeout=10).json() == {"json": {"blob": BIG}}


def test_object_store_refuses_an_authorization_header(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    url = str(_done(api, clock, api.trigger("big"))["outputPresignedUrl"])
    got = requests.get(url, headers={"Authorization": f"Bearer {emulator.secret_key}"}, timeout=10)
    assert got.status_code == 403 and got.headers["content-type"] == "application/xml"
    assert "<Code>InvalidArgument</Code>" in got.text and "Only one auth mechanism" in got.text


def test_object_store_refuses_a_bad_or_missing_signature(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    url = str(_done(api, clock, api.trigger("big"))["outputPresignedUrl"])
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    tampered = parts._replace(query=urlencode({**query, "X-Amz-Signature": "0" * 64})).geturl()
    got = requests.get(tampered, timeout=10)
    assert got.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in got.text
    other_key = parts._replace(path=parts.path.replace("output.json", "other.json")).geturl()
    assert "SignatureDoesNotMatch" in requests.get(other_key, timeout=10).text
    unsigned = requests.get(parts._replace(query="").geturl(), timeout=10)
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text


def test_presigned_url_expires_after_five_minutes(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    url = str(_done(api, clock, api.trigger("big"))["outputPresignedUrl"])
    clock.advance(PRESIGN_EXPIRES - 1)
    assert requests.get(url, timeout=10).status_code == 200
    clock.advance(2)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_missing_object_is_a_404_no_such_key(api: Api, emulator: EmulatorServer, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    url = str(_done(api, clock, api.trigger("big"))["outputPresignedUrl"])
    for key in emulator.state.packets.stored_keys():
        emulator.state.packets.delete(key)
    got = requests.get(url, timeout=10)
    assert got.status_code == 404 and "<Code>NoSuchKey</Code>" in got.text


def test_sdk_upload_flow_presigned_put_then_trigger_with_store_payload(
    api: Api, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("echo", output=lambda p: p))
    path = "trigger/echo/1700000000-abc/payload.json"
    presign = api.put(f"/api/v2/packets/{path}").json()
    assert presign["storagePath"] == path
    body = json.dumps({"json": {"n": 7}})
    put = requests.put(
        presign["presignedUrl"], data=body, headers={"content-type": "application/super+json"}, timeout=10
    )
    assert put.status_code == 200, put.text
    run_id = api.trigger("echo", path, payloadType="application/store")
    run = _done(api, clock, run_id)
    assert run["output"] == {"n": 7}  # the task received the uploaded payload
    assert "payloadPresignedUrl" in run


def test_presign_refuses_unsafe_paths_and_missing_keys(api: Api, emulator: EmulatorServer) -> None:
    assert api.get("/api/v1/packets/a/%2E%2E/b").json() == {"error": "Invalid packet storage path"}
    assert api.get("/api/v1/packets/a//b").json() == {"error": "Invalid packet storage path"}
    anonymous = requests.get(emulator.base_url + "/api/v1/packets/a/b.json", timeout=10)
    assert anonymous.status_code == 401


def test_offloading_can_be_switched_off(api: Api, emulator: EmulatorServer, clock: ManualClock) -> None:
    emulator.state.config.offload_packets = False
    emulator.state.set_task(TaskBehaviour("big", output={"blob": BIG}))
    run = _done(api, clock, api.trigger("big"))
    assert run["output"] == {"blob": BIG} and "outputPresignedUrl" not in run
