"""Offloaded payloads and outputs: fetched from their presigned URL and parsed as the SDK does.

The SDK offloads a task output of 128 KB or more (and the server a payload of 512 KB or more) to
object storage. ``GET /api/v3/runs/{id}`` then returns ``outputPresignedUrl`` / ``payloadPresignedUrl``
instead of ``output`` / ``payload``; a realtime row carries ``{data: <path>, dataType:
"application/store"}``, presigned by ``GET /api/v1/packets/{path}``. ``runs.retrieve`` and the realtime
feeds resolve them here (``resolvePresignedPacketUrl``), so ``run.output`` is the output whatever its
size:

- the URL is fetched with **no** credential and none of the client's headers (object storage refuses
  a request carrying both a signed query and ``Authorization``), retried on 5xx and connection
  errors with the client's retry policy, redirects not followed;
- the body is parsed by its ``content-type``: ``application/json``; ``application/super+json`` (types
  revived as in :mod:`._superjson`); ``text/plain`` and ``application/octet-stream`` as text; anything
  else (an HTML or XML page from a proxy) is refused;
- any failure (403, 404, a body that does not parse, a timeout) raises :class:`PacketError` naming the
  run, what was fetched and the URL's host, never ``None`` and never the signed query;
- once resolved, the presigned URL is dropped from the ``Run`` so its signature cannot reach a log or
  XCom.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from airflow_provider_trigger.client import _superjson
from airflow_provider_trigger.client._request import ApiRequest
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.errors import ApiError, PacketError

if TYPE_CHECKING:
    from airflow_provider_trigger.client._transport import AsyncTransport, BareResponse, SyncTransport
    from airflow_provider_trigger.client.models import Run

T = TypeVar("T")
_MISSING = object()
STORE_TYPE = "application/store"
_TEXT_TYPES = ("text/plain", "application/octet-stream")
_FIELDS = ("payload", "output")
THREAD_PARSE_BYTES = 64 * 1024
"""Async clients parse packets larger than this in a worker thread."""
CACHE_SIZE = 16
"""Resolved realtime packets kept per feed (a re-sent row of a finished run is not fetched again)."""


def host_of(url: str) -> str:
    """The URL's host (and port): all an error may say about a presigned URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "an unparseable URL"
    return parts.netloc.rsplit("@", 1)[-1] or "an unparseable URL"


def parse_body(data: bytes, content_type: str | None, *, run_id: str, what: str, host: str) -> Any:
    """``parsePacket`` on a fetched object: JSON, superjson or text by ``content_type``."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()

    def unreadable(reason: str) -> PacketError:
        return PacketError(
            f"the {what} of run {run_id} fetched from {host} could not be read: {reason}",
            run_id=run_id,
            what=what,
            host=host,
        )

    if kind in ("application/json", "application/super+json"):
        try:
            value = json.loads(data)  # bytes: no decoded copy of a large packet
        except ValueError as exc:  # UnicodeDecodeError included
            raise unreadable(f"{len(data)} bytes of {kind} that are not JSON ({exc})") from None
        if kind == "application/json":
            return value
        if not isinstance(value, dict) or "json" not in value:
            raise unreadable("a superjson document without its 'json' field")
        return _superjson.deserialize(value)
    if kind in _TEXT_TYPES:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise unreadable(f"{len(data)} bytes that are not UTF-8 text ({kind})") from None
    raise unreadable(f"an unexpected content type {kind!r} ({len(data)} bytes)")


def _check(response: BareResponse, *, run_id: str, what: str, host: str) -> tuple[bytes, str | None]:
    """The body and content type of a 2xx answer; an ``ApiError`` (retried when 5xx) otherwise."""
    status, headers, content = response
    if 200 <= status < 300:
        return content, headers.get("content-type")
    code = _s3_code(content)
    reason = {403: "access denied (expired or invalid signature?)", 404: "no such object"}.get(status, "")
    detail = ": ".join(p for p in (code, reason) if p) or "unexpected answer"
    raise ApiError(
        f"{status} from {host} ({detail})",
        status=status,
        headers={k: v for k, v in headers.items() if k in ("x-should-retry", "retry-after")},
        body={"code": code} if code else None,
    )


def _s3_code(content: bytes) -> str:
    """``<Code>…</Code>`` of an S3 error document, if any."""
    text = content[:2000].decode("utf-8", "replace")
    start = text.find("<Code>")
    end = text.find("</Code>", start)
    return text[start + 6 : end] if start != -1 and end != -1 else ""


def _wrap(exc: ApiError, *, run_id: str, what: str, host: str) -> PacketError:
    if isinstance(exc, PacketError):
        return exc
    message = f"the {what} of run {run_id} could not be fetched: {exc.message}"
    return PacketError(
        message, run_id=run_id, what=what, host=host, status=exc.status, headers=exc.headers, body=exc.body
    )


def fetch(
    transport: SyncTransport, url: str, *, run_id: str, what: str, options: RequestOptions | None
) -> Any:
    """GET and parse one presigned URL (sync), retried as the client retries API calls."""
    host = host_of(url)
    merged = transport.config.options.merged(options)

    def attempt() -> tuple[bytes, str | None]:
        response = transport.get_bare(url, host, merged.timeout)
        return _check(response, run_id=run_id, what=what, host=host)

    try:
        content, kind = transport.config.policy(merged.retry).call(attempt)
    except ApiError as exc:
        raise _wrap(exc, run_id=run_id, what=what, host=host) from None
    return parse_body(content, kind, run_id=run_id, what=what, host=host)


async def afetch(
    transport: AsyncTransport, url: str, *, run_id: str, what: str, options: RequestOptions | None
) -> Any:
    """GET and parse one presigned URL (async), retried as the client retries API calls."""
    host = host_of(url)
    merged = transport.config.options.merged(options)

    async def attempt() -> tuple[bytes, str | None]:
        response = await transport.get_bare(url, host, merged.timeout)
        return _check(response, run_id=run_id, what=what, host=host)

    try:
        content, kind = await transport.config.policy(merged.retry).acall(attempt)
    except ApiError as exc:
        raise _wrap(exc, run_id=run_id, what=what, host=host) from None
    if len(content) > THREAD_PARSE_BYTES:  # a large JSON parse would stall the event loop (the triggerer's)
        return await asyncio.to_thread(parse_body, content, kind, run_id=run_id, what=what, host=host)
    return parse_body(content, kind, run_id=run_id, what=what, host=host)


def _offloaded(run: Run) -> list[tuple[str, str]]:
    """``[(field, presigned url)]`` for the run's offloaded payload/output."""
    found = []
    for what in _FIELDS:
        url = getattr(run, f"{what}_presigned_url", None)
        if isinstance(url, str) and url:
            found.append((what, url))
    return found


def _store(run: Run, what: str, value: Any) -> None:
    setattr(run, what, value)
    setattr(run, f"{what}_presigned_url", None)  # the signature must not outlive its use
    extra = run.model_extra
    if extra is not None:
        extra.setdefault("offloaded", [])
        extra["offloaded"].append(what)


def resolve_run(transport: SyncTransport, run: T, options: RequestOptions | None = None) -> T:
    """``runs.retrieve``'s ``prepareData``: replace presigned URLs by the data they point at."""
    from airflow_provider_trigger.client.models import Run

    if not isinstance(run, Run):
        return run
    for what, url in _offloaded(run):
        _store(run, what, fetch(transport, url, run_id=run.id, what=what, options=options))
    return run


async def aresolve_run(transport: AsyncTransport, run: T, options: RequestOptions | None = None) -> T:
    """The async twin of :func:`resolve_run`."""
    from airflow_provider_trigger.client.models import Run

    if not isinstance(run, Run):
        return run
    for what, url in _offloaded(run):
        _store(run, what, await afetch(transport, url, run_id=run.id, what=what, options=options))
    return run


# ----- realtime rows: an ``application/store`` path, presigned by the API first ------------------------
def _presign_request(path: str) -> ApiRequest[str]:
    def presigned_url(body: Any) -> str:
        url = body.get("presignedUrl") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise ValueError("the packet presign answer has no presignedUrl")
        return url

    return ApiRequest("GET", "/api/v1/packets/" + quote(path, safe="/"), presigned_url, auth="any")


def stored_paths(run: Run) -> list[tuple[str, str]]:
    """``[(field, store path)]`` a realtime run still has to resolve (set by ``row_to_run``)."""
    extra = run.model_extra or {}
    return [
        (what, path) for what in _FIELDS if isinstance(path := extra.get(f"{what}StoragePath"), str) and path
    ]


def _remember(cache: dict[tuple[str, str], Any], key: tuple[str, str], value: Any) -> Any:
    while len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def _stored(run: Run, what: str, value: Any) -> None:
    setattr(run, what, value)
    extra = run.model_extra
    if extra is not None:
        extra.pop(f"{what}StoragePath", None)
        if what == "output":
            extra["outputInFeed"] = True


def resolve_row_run(transport: SyncTransport, run: Run, cache: dict[tuple[str, str], Any]) -> Run:
    """A realtime run whose payload/output columns hold object-store paths, with the data fetched."""
    for what, path in stored_paths(run):
        value = cache.get((run.id, path), _MISSING)
        if value is _MISSING:
            url = transport.send(_presign_request(path)).parsed
            value = fetch(transport, url, run_id=run.id, what=what, options=None)
            _remember(cache, (run.id, path), value)
        _stored(run, what, value)
    return run


async def aresolve_row_run(transport: AsyncTransport, run: Run, cache: dict[tuple[str, str], Any]) -> Run:
    """The async twin of :func:`resolve_row_run`."""
    for what, path in stored_paths(run):
        value = cache.get((run.id, path), _MISSING)
        if value is _MISSING:
            url = (await transport.send(_presign_request(path))).parsed
            value = await afetch(transport, url, run_id=run.id, what=what, options=None)
            _remember(cache, (run.id, path), value)
        _stored(run, what, value)
    return run
