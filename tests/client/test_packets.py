"""Offloaded outputs and payloads: ``runs.retrieve`` and the realtime feeds fetch presigned packets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_trigger.client import (
    AsyncTriggerClient,
    PacketError,
    RetryOptions,
    TriggerClient,
)
from airflow_provider_trigger.client.packets import fetch
from airflow_provider_trigger.client.realtime import output_in_feed
from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour
from airflow_provider_trigger.emulator.packets import RawPacket

from .conftest import Scripted

BIG = {"rows": ["r" * 100] * 3000}  # ~300 KB


@pytest.fixture
def clock(emulator: EmulatorServer) -> Iterator[ManualClock]:
    clock = ManualClock()
    emulator.state.clock = clock
    yield clock


def _big_run(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock, output: object = BIG
) -> str:
    emulator.state.set_task(TaskBehaviour("big", output=output))
    run_id = client.tasks.trigger("big", {"n": 1}).id
    clock.advance(60)
    return run_id


def _packet_requests(emulator: EmulatorServer) -> list[dict[str, str]]:
    return [r.headers for r in emulator.requests.filter("GET", "/objects/")]


def _assert_safe(exc: PacketError, run_id: str, host: str, secrets: list[str]) -> None:
    text = f"{exc} {exc!r}"
    assert run_id in str(exc) and host in str(exc)
    assert exc.run_id == run_id and exc.host == host
    for secret in secrets:
        assert secret not in text
    assert "X-Amz-Signature" not in text


def test_retrieve_fetches_an_offloaded_output_without_credentials(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    run_id = _big_run(client, emulator, clock)
    run = client.runs.retrieve(run_id)
    assert run.output == BIG and run.payload == {"n": 1}
    assert run.output_presigned_url is None  # the signed URL does not outlive its use
    (headers,) = _packet_requests(emulator)
    lowered = {k.lower() for k in headers}
    assert "authorization" not in lowered and not any(k.startswith("x-trigger") for k in lowered)
    assert emulator.secret_key not in json.dumps(headers)
    raw = client.with_raw_response.runs.retrieve(run_id)
    assert raw.parsed.output == BIG


async def test_async_retrieve_fetches_offloaded_output_and_payload(
    async_client: AsyncTriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output=BIG))
    payload = {"blob": "p" * (600 * 1024)}
    handle = await async_client.tasks.trigger("big", payload)
    clock.advance(60)
    run = await async_client.runs.retrieve(handle.id)
    assert run.output == BIG and run.payload == payload
    assert run.payload_presigned_url is None and run.output_presigned_url is None
    assert len(_packet_requests(emulator)) == 2


def test_superjson_meta_types_are_revived(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    document = {
        "json": {
            "when": "2026-01-02T03:04:05.000Z",
            "big": "12345678901234567890",
            "gone": None,
            "tags": ["a", "b"],
            "index": [["x", 1], ["y", 2]],
            "pattern": "/ab+c/i",
            "pad": "z" * (130 * 1024),
        },
        "meta": {
            "values": {
                "when": ["Date"],
                "big": ["bigint"],
                "gone": ["undefined"],
                "tags": ["set"],
                "index": ["map"],
                "pattern": ["regexp"],
            },
            "v": 1,
        },
    }
    run_id = _big_run(client, emulator, clock, RawPacket(json.dumps(document)))
    output = client.runs.retrieve(run_id).output
    assert output["when"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert output["big"] == 12345678901234567890 and output["gone"] is None
    assert output["tags"] == ["a", "b"] and output["index"] == {"x": 1, "y": 2}
    assert output["pattern"] == "/ab+c/i"  # kept as its JSON form


def test_text_output_stays_text(client: TriggerClient, emulator: EmulatorServer, clock: ManualClock) -> None:
    text = "line\n" * 40_000
    run_id = _big_run(client, emulator, clock, text)
    assert client.runs.retrieve(run_id).output == text


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (RawPacket("{" * 200_000, "application/json"), "not JSON"),
        (RawPacket("<html>" * 40_000, "text/html"), "unexpected content type 'text/html'"),
        (RawPacket(json.dumps({"data": "x" * 200_000})), "without its 'json' field"),
    ],
)
def test_garbage_packet_raises_naming_run_and_host(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock, packet: RawPacket, reason: str
) -> None:
    run_id = _big_run(client, emulator, clock, packet)
    with pytest.raises(PacketError, match=reason) as caught:
        client.runs.retrieve(run_id)
    host = urlsplit(emulator.base_url).netloc
    _assert_safe(caught.value, run_id, host, [emulator.secret_key])
    assert caught.value.what == "output" and caught.value.status is None


def test_missing_object_404_raises_not_none(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock, sleeps: list[float]
) -> None:
    run_id = _big_run(client, emulator, clock)
    for key in emulator.state.packets.stored_keys():
        emulator.state.packets.delete(key)
    with pytest.raises(PacketError, match="404") as caught:
        client.runs.retrieve(run_id)
    assert caught.value.status == 404 and "NoSuchKey" in str(caught.value)
    _assert_safe(caught.value, run_id, urlsplit(emulator.base_url).netloc, [emulator.secret_key])
    assert sleeps == []  # a 404 from object storage is not retried


async def test_forbidden_403_raises_on_the_async_client(
    async_client: AsyncTriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("big", output=BIG))
    run_id = (await async_client.tasks.trigger("big")).id
    clock.advance(60)
    emulator.state.faults.inject("GET", "/objects/*", 403)
    with pytest.raises(PacketError, match="403") as caught:
        await async_client.runs.retrieve(run_id)
    _assert_safe(caught.value, run_id, urlsplit(emulator.base_url).netloc, [emulator.secret_key])


def test_5xx_and_dropped_connections_are_retried(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock, sleeps: list[float]
) -> None:
    run_id = _big_run(client, emulator, clock)
    emulator.state.faults.inject("GET", "/objects/*", 503)
    emulator.state.faults.inject("GET", "/objects/*", "drop_before")
    assert client.runs.retrieve(run_id).output == BIG
    assert len(sleeps) == 2 and len(_packet_requests(emulator)) == 3


def test_an_expired_signature_is_refused(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    run_id = _big_run(client, emulator, clock)
    raw = emulator.state.runs[run_id]
    key = emulator.state.packets.key(raw.env, str(raw.output))
    url = emulator.state.packets.presign(emulator.base_url, key, "GET", clock() - 3600)
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    with pytest.raises(PacketError, match="403") as caught:
        fetch(client._transport, url, run_id=run_id, what="output", options=None)
    _assert_safe(caught.value, run_id, urlsplit(emulator.base_url).netloc, [signature])


def test_presigned_url_timeout_raises_naming_only_the_host(scripted: Scripted, sleeps: list[float]) -> None:
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(8)  # accepts connections, never answers
    port = blackhole.getsockname()[1]
    url = f"http://127.0.0.1:{port}/bucket/packets/x/output.json?X-Amz-Signature=s3cr3tsig&X-Amz-Expires=300"
    scripted.add(
        200, {"id": "run_timeout", "status": "COMPLETED", "taskIdentifier": "t", "outputPresignedUrl": url}
    )
    try:
        with (
            TriggerClient(
                "tr_dev_TestKeyNeverLogged000001",
                base_url=scripted.base_url,
                timeout=0.3,
                retry=RetryOptions(max_attempts=2),
                sleep=sleeps.append,
            ) as client,
            pytest.raises(PacketError, match="timed out") as caught,
        ):
            client.runs.retrieve("run_timeout")
    finally:
        blackhole.close()
    _assert_safe(caught.value, "run_timeout", f"127.0.0.1:{port}", ["s3cr3tsig", "tr_dev_TestKeyNeverLogged"])
    assert caught.value.status is None and len(sleeps) == 1  # retried once, like any connection error


def test_packet_on_another_host_gets_no_client_headers(scripted: Scripted) -> None:
    url = f"{scripted.base_url}/bucket/packets/x/output.json?X-Amz-Signature=s3cr3tsig"
    run = {"id": "run_other", "status": "COMPLETED", "taskIdentifier": "t", "outputPresignedUrl": url}
    scripted.add(200, run)
    scripted.add(200, b'{"json": {"ok": true}}', {"content-type": "application/super+json; charset=utf-8"})
    with TriggerClient("tr_dev_TestKeyNeverLogged000001", base_url=scripted.base_url) as client:
        assert client.runs.retrieve("run_other").output == {"ok": True}
    api_call, packet_call = scripted.received
    assert "Authorization" in api_call["headers"]
    assert packet_call["path"].startswith("/bucket/packets/x/output.json?")
    sent = {k.lower() for k in packet_call["headers"]}
    assert "authorization" not in sent and not any(k.startswith("x-trigger") for k in sent)


def test_realtime_feed_resolves_an_offloaded_output(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.config.realtime_hold_timeout = 0.2
    run_id = _big_run(client, emulator, clock)
    runs = list(client.runs.subscribe_to_run(run_id))
    assert runs[-1].output == BIG and output_in_feed(runs[-1])
    assert "outputStoragePath" not in (runs[-1].model_extra or {})
    assert len(emulator.requests.filter("GET", "/api/v1/packets/")) == 1


async def test_async_realtime_feed_resolves_an_offloaded_output(
    async_client: AsyncTriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.config.realtime_hold_timeout = 0.2
    emulator.state.set_task(TaskBehaviour("big", output=BIG))
    run_id = (await async_client.tasks.trigger("big")).id
    clock.advance(60)
    runs = [run async for run in async_client.runs.subscribe_to_run(run_id)]
    assert runs[-1].output == BIG and output_in_feed(runs[-1])


def test_realtime_feed_raises_on_a_missing_packet(
    client: TriggerClient, emulator: EmulatorServer, clock: ManualClock
) -> None:
    emulator.state.config.realtime_hold_timeout = 0.2
    run_id = _big_run(client, emulator, clock)
    for key in emulator.state.packets.stored_keys():
        emulator.state.packets.delete(key)
    with pytest.raises(PacketError, match=run_id):
        list(client.runs.subscribe_to_run(run_id))
