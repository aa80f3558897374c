"""Waitpoint tokens: create, list (cursor), retrieve, complete, and the unauthenticated callback URL."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from ..auth import secret_env
from ..errors import ApiError
from ..lifecycle import compact
from ..models import Environment, Waitpoint, dumps, friendly_id, iso
from ..pagination import cursor_page
from ..parsing import delay_until, duration_seconds, key_ttl_seconds, parse_date
from ..state import EmulatorState
from ..triggering import jwt_headers, validate_body
from ..waiting import on_completed, timeout_error
from .common import TASK_PAYLOAD_MAXIMUM_SIZE, check_size, read_json, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]


class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    idempotencyKey: str | None = None
    idempotencyKeyTTL: str | None = None
    timeout: str | None = None
    tags: str | list[str] | None = None


def _status(token: Waitpoint, now: float) -> str:
    if token.completed_at is not None:
        return "COMPLETED"
    if token.timeout_at is not None and now >= token.timeout_at:
        return "TIMED_OUT"
    return "WAITING"


def _url(request: Request, token: Waitpoint) -> str:
    base = str(request.base_url).rstrip("/")
    return f"{base}/api/v1/waitpoints/tokens/{token.id}/callback/{token.hash}"


def token_object(
    request: Request, state: EmulatorState, token: Waitpoint, *, with_output: bool
) -> dict[str, Any]:
    now = state.now()
    status = _status(token, now)
    body: dict[str, Any] = {
        "id": token.id,
        "url": _url(request, token),
        "status": status,
        "completedAt": iso(token.completed_at or (token.timeout_at if status == "TIMED_OUT" else None)),
        "timeoutAt": iso(token.timeout_at),
        "idempotencyKey": token.idempotency_key,
        "idempotencyKeyExpiresAt": iso(token.idempotency_key_expires_at),
        "tags": token.tags,
        "createdAt": iso(token.created_at),
    }
    if with_output:
        if status == "TIMED_OUT":
            body |= {
                "output": dumps(timeout_error(token)),
                "outputType": "application/json",
                "outputIsError": True,
            }
        elif token.output is not None:
            body |= {"output": token.output, "outputType": token.output_type, "outputIsError": False}
    return compact(body)


@router.post("/api/v1/waitpoints/tokens")
async def create_token(request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    check_size(request, 1024)
    raw = await read_json(request, required=False)
    body = validate_body(CreateTokenBody, raw)
    tags = [body.tags] if isinstance(body.tags, str) else list(body.tags or [])
    if len(tags) > 10:
        raise ApiError(422, "Waitpoints can only have 10 tags.")
    with state.lock:
        now = state.now()
        if body.idempotencyKey:
            for token in state.stores.waitpoints.values():
                fresh = token.idempotency_key_expires_at is None or token.idempotency_key_expires_at > now
                if token.env.id == env.id and token.idempotency_key == body.idempotencyKey and fresh:
                    return JSONResponse(
                        {"id": token.id, "isCached": True, "url": _url(request, token)},
                        headers=jwt_headers(env, f"write:waitpoints:{token.id}", now),
                    )
        token_id = friendly_id("waitpoint")
        token = Waitpoint(
            token_id,
            env,
            now,
            hmac.new(env.api_key.encode(), token_id.encode(), hashlib.sha256).hexdigest()[:20],
            idempotency_key=body.idempotencyKey,
            idempotency_key_expires_at=now + key_ttl_seconds(body.idempotencyKeyTTL)
            if body.idempotencyKey
            else None,
            timeout_at=delay_until(body.timeout, now) if body.timeout else None,
            tags=tags,
        )
        state.stores.waitpoints[token.id] = token
    return JSONResponse(
        {"id": token.id, "isCached": False, "url": _url(request, token)},
        headers=jwt_headers(env, f"write:waitpoints:{token.id}", now),
    )


@router.get("/api/v1/waitpoints/tokens")
async def list_tokens(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    q = request.query_params
    statuses = set(q["filter[status]"].split(",")) if q.get("filter[status]") else None
    tags = set(q["filter[tags]"].split(",")) if q.get("filter[tags]") else None
    key = q.get("filter[idempotencyKey]")
    start = parse_date(q["filter[createdAt][from]"]) if q.get("filter[createdAt][from]") else None
    end = parse_date(q["filter[createdAt][to]"]) if q.get("filter[createdAt][to]") else None
    if q.get("filter[createdAt][period]") and (seconds := duration_seconds(q["filter[createdAt][period]"])):
        start = state.now() - seconds
    with state.lock:
        now = state.now()
        rows = [
            t
            for t in reversed(state.stores.waitpoints.values())
            if t.env.id == env.id
            and (statuses is None or _status(t, now) in statuses)
            and (tags is None or bool(tags & set(t.tags)))
            and (key is None or t.idempotency_key == key)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at <= end)
        ]
        page, pagination = cursor_page(request, rows, lambda t: t.id)
        return {
            "data": [token_object(request, state, t, with_output=False) for t in page],
            "pagination": pagination,
        }


def _find(state: EmulatorState, env: Environment, token_id: str) -> Waitpoint:
    token = state.stores.waitpoints.get(token_id)
    if token is None or token.env.id != env.id:
        raise ApiError(404, "Waitpoint not found")
    return token


@router.get("/api/v1/waitpoints/tokens/{token_id}")
async def retrieve_token(token_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        return token_object(request, state, _find(state, env, token_id), with_output=True)


def _complete(state: EmulatorState, token: Waitpoint, data: Any) -> None:
    """Complete a waiting token and continue the runs waiting on it. A completed or timed-out token
    answers ``success`` unchanged (upstream: a COMPLETED waitpoint returns at once; a timeout completes
    the waitpoint with an error, so it is COMPLETED in the database)."""
    with state.lock:
        if token.completed_at is None and _status(token, state.now()) == "WAITING":
            token.completed_at = state.now()
            token.output = None if data is None else dumps(data)
            on_completed(state, token)


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    data: Any = None


@router.post("/api/v1/waitpoints/tokens/{token_id}/complete")
async def complete_token(token_id: str, request: Request, env: SecretEnv) -> dict[str, bool]:
    state = state_of(request)
    check_size(request, TASK_PAYLOAD_MAXIMUM_SIZE)
    body = validate_body(CompleteBody, await read_json(request, required=False))
    _complete(state, _find(state, env, token_id), body.data)
    return {"success": True}


@router.post("/api/v1/waitpoints/tokens/{token_id}/callback/{hash_}")
async def callback(token_id: str, hash_: str, request: Request) -> dict[str, bool]:
    state = state_of(request)
    token = state.stores.waitpoints.get(token_id)
    if token is None:
        raise ApiError(404, "Waitpoint not found")
    if not hmac.compare_digest(token.hash, hash_):
        raise ApiError(401, "Invalid URL, hash doesn't match")
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "Invalid JSON") from None
    _complete(state, token, data)
    return {"success": True}
