"""ASGI layer in front of the routes: request log, fault injection, rate limiting, dropped connections.

Dropping a connection: uvicorn answers 500 when an app raises before responding, so instead the
transport behind uvicorn's ``send`` is aborted (TCP reset) and the cycle is marked disconnected; the
client sees a connection error, never a response.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .faults import DROP_AFTER, DROP_BEFORE, MUST_REFETCH, rate_limited_body, status_body
from .requestlog import RecordedRequest

if TYPE_CHECKING:
    from .state import EmulatorState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)
_UNLOGGED = ("/_emulator", "/runs/", "/favicon.ico")


async def _json_response(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    problem = status in (401, 429) and isinstance(body, dict) and "title" in body
    content_type = "application/problem+json" if problem else "application/json"
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def abort_connection(send: Send) -> bool:
    """Reset the TCP connection behind uvicorn's ``send``; False when not served by uvicorn."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    cycle.disconnected = True  # type: ignore[union-attr]
    return True


class Dropped(Exception):
    """Raised when a connection drop could not be performed at the transport level."""


async def handle(state: EmulatorState, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    """Run one HTTP request through logging, faults and the rate limiter, then the routes."""
    path: str = scope["path"]
    if scope["type"] != "http" or path.startswith(_UNLOGGED):
        await app(scope, receive, send)
        return
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    record = RecordedRequest(scope["method"], path, query, headers, body, time=state.now())
    state.requests.append(record)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    decision = state.faults.take(scope["method"], path)
    if decision is not None and isinstance(decision.kind, int):
        record.status, record.fault = decision.kind, str(decision.kind)
        await _json_response(
            send,
            decision.kind,
            decision.body or _fault_body(decision.kind, decision.reset_after),
            _fault_headers(decision.kind, decision.reset_after),
        )
        return
    if decision is not None and decision.kind == MUST_REFETCH:
        record.status, record.fault = 409, MUST_REFETCH
        old = query.get("handle") or query.get("shape_id") or "shape"
        await _json_response(
            send, 409, [{"headers": {"control": "must-refetch"}}], {"electric-handle": f"{old}-next"}
        )
        return
    if decision is not None and decision.kind == DROP_BEFORE:
        record.fault = DROP_BEFORE
        _drop(send)
        return

    extra_headers: dict[str, str] = {}
    limit = None if state.config.lenient else state.config.rate_limit
    if limit is not None and path.startswith("/api") and not _UNLIMITED.match(path):
        authorization = headers.get("authorization")
        if not authorization:
            record.status = 401
            await _json_response(send, 401, _NO_AUTHORIZATION)
            return
        key, is_jwt = _limit_key(state, authorization)
        if is_jwt:  # public JWTs: their own bucket per token (apiRateLimit.server.ts)
            limit = state.config.jwt_rate_limit or limit
        allowed, lim, remaining, reset_ms = state.rate_limiter.take(limit, key)
        extra_headers = {
            "x-ratelimit-limit": str(lim),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset_ms),
        }
        if not allowed:
            record.status = 429
            await _json_response(send, 429, rate_limited_body(lim, remaining, reset_ms), extra_headers)
            return

    if decision is not None and decision.kind == DROP_AFTER:
        record.fault = DROP_AFTER

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.extra["applied_status"] = message["status"]

        await app(scope, replay, swallow)
        state.version += 1
        _drop(send)
        return

    async def send_logged(message: Message) -> None:
        if message["type"] == "http.response.start":
            record.status = message["status"]
            if extra_headers:  # a route's own x-ratelimit-* (the batch limiter's 429) wins
                own = {k.decode("latin-1").lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in extra_headers.items() if k not in own
                ]
        await send(message)

    await app(scope, replay, send_logged)
    if scope["method"] not in {"GET", "HEAD", "OPTIONS"}:
        state.version += 1


# apiRateLimit.server.ts: paths the /api limiter skips (batch items spend the batch's own grant)
_UNLIMITED = re.compile(
    r"^/api/(v3/batches/[^/]+/items|v[12]/packets/.*|v1/auth/jwt/claims|v1/timezones|v\d+/deployments/current"
    r"|v1/waitpoints/tokens/[^/]+/callback/[^/]+|v1/tasks/[^/]+/callback/[^/]+|v1/runs/[^/]+/attempts"
    r"|v1/authorization-code|v1/token|v1/usage/ingest)$"
)
_NO_AUTHORIZATION = {
    "title": "Unauthorized",
    "status": 401,
    "type": "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/401",
    "detail": "No authorization header provided",
    "error": "No authorization header provided",
}


def _limit_key(state: EmulatorState, authorization: str) -> tuple[str, bool]:
    """(bucket, is a JWT): a secret key's bucket is its environment's; other tokens get one each."""
    token = authorization.removeprefix("Bearer ").strip()
    env = state.env_by_key(token)
    return (env.key_env.id if env is not None else authorization), not token.startswith("tr_")


def _drop(send: Send) -> None:
    if not abort_connection(send):
        raise Dropped("connection dropped by fault injection")


def _fault_body(status: int, reset_after: float) -> dict[str, Any]:
    if status == 429:
        reset_ms = int((time.time() + reset_after) * 1000)
        return rate_limited_body(750, 0, reset_ms)
    return status_body(status)


def _fault_headers(status: int, reset_after: float) -> dict[str, str]:
    if status != 429:
        return {}
    return {
        "x-ratelimit-limit": "750",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int((time.time() + reset_after) * 1000)),
    }
