"""Realtime feeds: ``/realtime/v1/runs/{id}``, ``/realtime/v1/runs?tags=…``, ``/realtime/v1/batches/{id}``.

Knobs (``state.config``): ``realtime_hold_timeout`` (seconds a quiet live request is held),
``realtime_electric_mode`` (no up-to-date on ``offset=-1``, 409 on unknown positions, Electric
timestamps and headers), ``realtime_partial_updates`` (updates carry ``id`` + changed columns),
``realtime_live_limit`` (live requests per env, else 429). 409 injection: the ``must_refetch`` fault.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..auth import bearer, resolve_secret
from ..batching import settle_batches
from ..errors import ApiError
from ..lifecycle import CURRENT_API_VERSION
from ..models import Environment
from ..parsing import duration_seconds
from ..realtime import (
    UP_TO_DATE,
    Feed,
    diff,
    handle_created_after,
    new_handle,
    offset_ms,
    schema_header,
    skip_columns,
    snapshot,
)
from ..state import EmulatorState
from .common import state_of

router = APIRouter()
FORBIDDEN = {
    "error": "Unauthorized",
    "code": "unauthorized",
    "param": "access_token",
    "type": "authorization",
}
MAX_CREATED_AT_AGE = 86400.0
_CREATED_AT = re.compile(r"^(\d+(w|d|hr|h|m|s))+$")


def _jwt_claims(state: EmulatorState, token: str) -> tuple[Environment, dict[str, Any]]:
    invalid = ApiError(401, "Public Access Token is invalid")
    try:
        header, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        raise invalid from None
    env = (
        next((e for e in state.envs.values() if e.id == claims.get("sub")), None)
        if isinstance(claims, dict)
        else None
    )
    if env is None or not claims.get("pub"):
        raise ApiError(401, "Invalid Public Access Token")
    expected = hmac.new(env.api_key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    if not hmac.compare_digest(expected, given) or claims.get("exp", 0) < time.time():
        raise invalid
    return env, claims


def _authenticate(request: Request) -> tuple[Environment, dict[str, Any] | None]:
    """A secret key (root) or a public JWT; PATs fall through to the key lookup and get 401."""
    state = state_of(request)
    token = bearer(request)
    if token and token.count(".") == 2 and not token.startswith("tr_"):
        return _jwt_claims(state, token)
    branch = (request.headers.get("x-trigger-branch") or "").strip() or None
    return resolve_secret(state, token, branch), None


def _authorize(claims: dict[str, Any] | None, allowed: set[str]) -> None:
    if claims is None:
        return
    scopes = set(claims.get("scopes") or [])
    if not scopes & (allowed | {"read:all", "admin"}):
        raise ApiError(403, body=FORBIDDEN)


def _encode(messages: list[dict[str, Any]], request: Request) -> bytes:
    body = json.dumps(messages, separators=(",", ":"))
    if request.headers.get("x-trigger-api-version") != CURRENT_API_VERSION:
        body = body.replace('"status":"DEQUEUED"', '"status":"EXECUTING"')
    return body.encode()


def _response(
    request: Request, messages: list[dict[str, Any]], headers: dict[str, str], *, live: bool
) -> Response:
    state = state_of(request)
    electric = state.config.realtime_electric_mode
    out = {"content-type": "application/json"}
    if electric:
        out["cache-control"] = "public, max-age=5, stale-while-revalidate=5" if live else "public, max-age=60"
        if messages and messages[-1] == UP_TO_DATE:
            out["electric-up-to-date"] = ""
    else:
        out |= {"cache-control": "no-store", "access-control-expose-headers": "*"}
    modern = request.headers.get("x-trigger-electric-version") is not None
    for name, value in headers.items():
        if not modern:
            name = {
                "electric-handle": "electric-shape-id",
                "electric-offset": "electric-chunk-last-offset",
            }.get(name, name)
        out[name] = value
    return Response(_encode(messages, request), status_code=200, headers=out)


def _protocol_error(field: str, message: str) -> ApiError:
    return ApiError(400, body={"message": "Invalid request", "errors": {field: [message]}})


async def _serve(request: Request, env: Environment, feed: Feed, default_handle: str | None) -> Response:
    state = state_of(request)
    cfg, rt = state.config, state.realtime
    with rt.lock:
        rt.requests += 1
    q = request.query_params
    modern = request.headers.get("x-trigger-electric-version") is not None
    handle = q.get("handle") if modern else (q.get("shape_id") or q.get("handle"))
    offset = q.get("offset")
    if offset is None:
        raise _protocol_error("offset", "can't be blank")
    live = q.get("live") == "true"
    if live and offset == "-1":
        raise _protocol_error("live", "can't be true when offset is -1")
    if offset != "-1" and not handle:
        raise _protocol_error("handle", "can't be blank when offset != -1")
    electric, skip = cfg.realtime_electric_mode, skip_columns(q.get("skipColumns"))
    seq = rt.positions.next_seq()
    if offset == "-1" or (not live and not electric):
        changes = snapshot(state, feed, electric=electric, skip=skip)
        handle = handle or default_handle or new_handle(feed, state.now(), seq)
        new_offset = f"{changes.max_updated_ms}_{seq}"
        rt.positions.put(handle, new_offset, changes)
        messages = changes.messages if electric and offset == "-1" else [*changes.messages, UP_TO_DATE]
        headers = {
            "electric-handle": handle,
            "electric-offset": new_offset,
            "electric-schema": schema_header(skip),
        }
        return _response(request, messages, headers, live=False)
    assert handle is not None
    position = rt.positions.get(handle, offset)
    known_version, known = position if position is not None else (None, None)
    if known is None and electric:
        raise ApiError(
            409,
            body=[{"headers": {"control": "must-refetch"}}],
            headers={"electric-handle": f"{handle}-next"},
        )

    def changes_since(rows: Any, version: int | None) -> Any:
        return diff(
            state,
            feed,
            rows,
            offset_ms(offset),
            electric=electric,
            partial=cfg.realtime_partial_updates,
            skip=skip,
            known_version=version,
        )

    settle_batches(state)
    if not live:  # Electric catch-up: whatever changed since the position, then up-to-date
        changes = changes_since(known, known_version)
    else:
        if not rt.enter_live(env.key_env.id, cfg.realtime_live_limit):
            raise ApiError(429, "Too many concurrent requests")
        try:
            deadline = time.monotonic() + cfg.realtime_hold_timeout
            changes, polls = changes_since(known, known_version), 0
            while not changes.messages and time.monotonic() < deadline and not state.stopping:
                if await request.is_disconnected():
                    return Response(status_code=204)
                await asyncio.sleep(cfg.realtime_poll_interval)
                polls += 1
                settle_batches(state)  # batch items become runs while the request is held
                quiet = state.version == changes.version and state.now() < changes.next_at
                if quiet and polls % 25:
                    continue  # nothing was written and no row is due to move: skip the rescan
                # No messages so far, so the rows seen equal ``known``; diff from them incrementally.
                baseline = changes.seen if known is not None else None
                changes = changes_since(baseline, changes.version if known is not None else None)
        finally:
            rt.leave_live(env.key_env.id)
    new_offset = f"{changes.max_updated_ms}_{seq}" if changes.messages else offset
    if changes.messages:
        rt.positions.put(handle, new_offset, changes)
    headers = {"electric-handle": handle, "electric-offset": new_offset}
    if live:
        headers["electric-cursor"] = str(seq)
    else:
        headers["electric-schema"] = schema_header(skip)
    return _response(request, [*changes.messages, UP_TO_DATE], headers, live=live)


@router.get("/realtime/v1/runs/{run_id}")
async def stream_run(run_id: str, request: Request) -> Response:
    env, claims = _authenticate(request)
    state = state_of(request)
    run = state.stores.runs.get(run_id)
    if run is None or run.env.id != env.id:
        raise ApiError(404, "Not found", headers={"x-should-retry": "false"})
    allowed = {
        "read:runs",
        f"read:runs:{run.id}",
        f"read:tasks:{run.task}",
        *(f"read:tags:{t}" for t in run.tags),
    }
    if run.batch_id:
        allowed.add(f"read:batch:{run.batch_id}")
    _authorize(claims, allowed)
    return await _serve(request, env, Feed("run", env.id, run_id=run.id), f"run-{run.internal_id}")


def _tags(raw: str | None) -> list[str]:
    if raw is None:
        return []
    tags = raw.split(",")
    bad = [t for t in tags if not t or any(ord(c) < 32 or c in '\\"' for c in t)]
    if bad:
        details = [{"path": ["tags"], "message": f"Invalid tag: {t!r}"} for t in bad]
        raise ApiError(400, "Query Error", details=details)
    return tags


@router.get("/realtime/v1/runs")
async def stream_runs_with_tags(request: Request) -> Response:
    env, claims = _authenticate(request)
    state = state_of(request)
    tags = _tags(request.query_params.get("tags"))
    _authorize(claims, {"read:runs", "read:tags", *(f"read:tags:{t}" for t in tags)})
    handle = request.query_params.get("handle") or request.query_params.get("shape_id") or ""
    pinned = handle_created_after(handle)
    if pinned is None:
        raw = request.query_params.get("createdAt") or "24h"
        age = duration_seconds(raw) if _CREATED_AT.match(raw) else None
        age = min(age if age is not None else MAX_CREATED_AT_AGE, MAX_CREATED_AT_AGE)
        pinned = (int(state.now() - age) // 60) * 60.0
    return await _serve(request, env, Feed("tags", env.id, tags=tags, created_after=pinned), None)


@router.get("/realtime/v1/batches/{batch_id}")
async def stream_batch(batch_id: str, request: Request) -> Response:
    env, claims = _authenticate(request)
    state = state_of(request)
    batch = state.stores.batches.get(batch_id)
    if batch is None or batch.env.id != env.id:
        raise ApiError(404, "Not found", headers={"x-should-retry": "true"})
    _authorize(claims, {"read:runs", f"read:batch:{batch.id}"})
    return await _serve(request, env, Feed("batch", env.id, batch_id=batch.id), None)
