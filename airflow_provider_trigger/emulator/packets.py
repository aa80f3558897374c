"""Large outputs and payloads as object-store packets, served through presigned-style URLs.

Production (upstream ``packages/core/src/v3/limits.ts``, ``utils/ioSerialization.ts``,
``apps/webapp/app/runEngine/concerns/payloads.server.ts``, ``v3/objectStore.server.ts``):

- the SDK stringifies a task's output with superjson (``application/super+json``) and offloads it
  when the string is at least 128 KB (``OFFLOAD_IO_PACKET_LENGTH_LIMIT``) to
  ``<run id>-<attempt>/output.json``; the run then stores ``{data: <path>, dataType: application/store}``;
- the server offloads a trigger payload of at least 512 KB (``TASK_PAYLOAD_OFFLOAD_THRESHOLD``) to
  ``<run id>/payload.json``, keeping the payload's own data type on the stored object;
- ``GET /api/v3/runs/{id}`` then returns ``outputPresignedUrl`` / ``payloadPresignedUrl`` (a 5 minute
  S3 GET URL) instead of ``output`` / ``payload``; realtime rows carry the ``application/store`` path;
- objects live under ``packets/<project ref>/<env slug>/<path>``.

Here the "object store" is a dict on the state and the URLs point at :mod:`.routes.packets` on the
emulator's own host. Signatures are an HMAC of method, path, date and expiry with a per-state secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .models import Environment, Run, dumps

if TYPE_CHECKING:
    from .state import EmulatorState

OUTPUT_OFFLOAD_BYTES = 128 * 1024
"""The SDK offloads a stringified output of at least this many bytes (``OFFLOAD_IO_PACKET_LENGTH_LIMIT``)."""
PAYLOAD_OFFLOAD_BYTES = 524_288
"""The server offloads a trigger payload of at least this many bytes (``TASK_PAYLOAD_OFFLOAD_THRESHOLD``)."""
PRESIGN_EXPIRES = 300
"""Seconds a presigned URL stays valid (``client.presign(key, method, 300)``)."""
STORE_TYPE = "application/store"
SUPERJSON = "application/super+json"
BUCKET = "objects"
"""The path-style bucket in presigned URLs: ``/<bucket>/packets/<ref>/<env>/<path>``."""
_ALGORITHM = "AWS4-HMAC-SHA256"
_ACCESS_KEY = "EMULATORACCESSKEY"


@dataclass(frozen=True)
class RawPacket:
    """A task output given verbatim (``TaskBehaviour(output=RawPacket(data, data_type))``): the exact
    string and data type the SDK would send, e.g. a superjson document with ``meta``, or garbage."""

    data: str
    data_type: str = SUPERJSON


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str
    etag: str


def superjson_packet(value: Any) -> tuple[str, str]:
    """``stringifyIO``: text stays ``text/plain``; other values become superjson (datetimes: ``Date``)."""
    if isinstance(value, RawPacket):
        return value.data, value.data_type
    if isinstance(value, str):
        return value, "text/plain"
    meta: dict[str, Any] = {}

    def walk(node: Any, path: list[str]) -> Any:
        if isinstance(node, datetime):
            meta[".".join(p.replace("\\", "\\\\").replace(".", "\\.") for p in path)] = ["Date"]
            aware = node if node.tzinfo else node.replace(tzinfo=UTC)
            return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if isinstance(node, dict):
            return {k: walk(v, [*path, str(k)]) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, [*path, str(i)]) for i, v in enumerate(node)]
        return node

    document: dict[str, Any] = {"json": walk(value, [])}
    if meta:
        document["meta"] = {"values": meta.pop("") if "" in meta else meta}
    return dumps(document), SUPERJSON


class PacketStore:
    """The emulator's object store: ``key → (bytes, content type)`` plus the URL signing secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, StoredObject] = {}
        self._secret = secrets.token_bytes(32)

    # ----- objects ----------------------------------------------------------------------------------
    @staticmethod
    def key(env: Environment, path: str) -> str:
        return f"packets/{env.project_ref}/{env.slug}/{path}"

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        stored = StoredObject(data, content_type, hashlib.md5(data).hexdigest())
        with self._lock:
            self._objects[key] = stored
        return stored

    def get(self, key: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get(key)

    def delete(self, key: str) -> None:
        """Forget an object (tests: a presigned URL that answers 404)."""
        with self._lock:
            self._objects.pop(key, None)

    def stored_keys(self) -> list[str]:
        with self._lock:
            return list(self._objects)

    def store(self, env: Environment, path: str, data: str, data_type: str) -> str:
        """Upload a packet as the SDK/server would; returns the ``application/store`` path."""
        self.put(self.key(env, path), data.encode(), data_type)
        return path

    def resolve(self, env: Environment, data: str | None, data_type: str) -> tuple[str | None, str]:
        """``importPacket``: an ``application/store`` path → the stored text and its content type."""
        if data_type != STORE_TYPE or data is None:
            return data, data_type
        found = self.get(self.key(env, data))
        if found is None:
            return None, "application/json"
        return found.data.decode(), found.content_type

    # ----- presigned URLs ---------------------------------------------------------------------------
    def _signature(self, method: str, path: str, amz_date: str, expires: str) -> str:
        message = f"{method}\n{path}\n{amz_date}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def presign(self, base_url: str, key: str, method: str, now: float) -> str:
        """An absolute, S3-style presigned URL for ``key`` on the emulator's host."""
        path = f"/{BUCKET}/{key}"
        stamp = datetime.fromtimestamp(now, UTC)
        amz_date = stamp.strftime("%Y%m%dT%H%M%SZ")
        expires = str(PRESIGN_EXPIRES)
        query = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Credential": f"{_ACCESS_KEY}/{stamp:%Y%m%d}/auto/s3/aws4_request",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._signature(method, path, amz_date, expires),
        }
        return base_url.rstrip("/") + quote(path, safe="/") + "?" + urlencode(query)

    def check(self, method: str, path: str, query: dict[str, str], now: float) -> tuple[str, str] | None:
        """``None`` when the signed query is valid now, else the S3 ``(Code, Message)`` to refuse with."""
        needed = ("X-Amz-Algorithm", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature")
        if any(name not in query for name in needed):
            return "AccessDenied", "Access Denied"
        try:
            signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(query["X-Amz-Expires"])
        except ValueError:
            return "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed."
        expected = self._signature(method, path, query["X-Amz-Date"], query["X-Amz-Expires"])
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if now > signed_at.timestamp() + expires:
            return "AccessDenied", "Request has expired"
        return None


def offload(
    store: PacketStore, env: Environment, path: str, data: str | None, data_type: str, threshold: int
) -> tuple[str | None, str]:
    """``(data, dataType)`` as stored on a run: offloaded to ``path`` once ``data`` reaches ``threshold``."""
    if data is None or data_type == STORE_TYPE or len(data.encode()) < threshold:
        return data, data_type
    return store.store(env, path, data, data_type), STORE_TYPE


def run_packets(
    state: EmulatorState, env: Environment, run_id: str, payload: str | None, payload_type: str, output: Any
) -> tuple[str | None, str, str | None, str]:
    """A new run's ``(payload, payloadType, output, outputType)`` as stored: the output stringified as
    the SDK does, each offloaded when it reaches its threshold (unless the config keeps them inline)."""
    output_data, output_type = (None, "application/json") if output is None else superjson_packet(output)
    if not state.config.offloads_packets():
        return payload, payload_type, output_data, output_type
    store = state.packets
    payload, payload_type = offload(
        store, env, f"{run_id}/payload.json", payload, payload_type, PAYLOAD_OFFLOAD_BYTES
    )
    extension = "json" if output_type in ("application/json", SUPERJSON) else "txt"
    output_data, output_type = offload(
        store, env, f"{run_id}-1/output.{extension}", output_data, output_type, OUTPUT_OFFLOAD_BYTES
    )
    return payload, payload_type, output_data, output_type


def presigned_io(
    state: EmulatorState, run: Run, completed: bool, base_url: str, parse: Any
) -> dict[str, Any]:
    """``ApiRetrieveRunPresenter``: ``payload``/``output`` parsed, or ``…PresignedUrl`` when offloaded."""
    body: dict[str, Any] = {}
    now = state.now()
    if run.payload_type == STORE_TYPE and run.payload:
        key = PacketStore.key(run.env, run.payload)
        body["payloadPresignedUrl"] = state.packets.presign(base_url, key, "GET", now)
    else:
        body["payload"] = parse(run.payload, run.payload_type)
    if completed:
        if run.output_type == STORE_TYPE and run.output:
            key = PacketStore.key(run.env, run.output)
            body["outputPresignedUrl"] = state.packets.presign(base_url, key, "GET", now)
        else:
            body["output"] = parse(run.output, run.output_type)
    return body


def s3_error(code: str, message: str, resource: str) -> str:
    """An S3 ``<Error>`` document (the body object storage answers refusals with)."""
    request_id = secrets.token_hex(8).upper()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId></Error>"
    )


__all__ = [
    "OUTPUT_OFFLOAD_BYTES",
    "PAYLOAD_OFFLOAD_BYTES",
    "PRESIGN_EXPIRES",
    "STORE_TYPE",
    "SUPERJSON",
    "PacketStore",
    "RawPacket",
    "offload",
    "s3_error",
    "superjson_packet",
]
