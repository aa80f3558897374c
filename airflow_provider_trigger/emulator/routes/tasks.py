"""Triggering: ``/api/v1/tasks/{task}/trigger``, the legacy v1 task batch and ``/api/v{1,2}/tasks/batch``."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..auth import secret_env
from ..errors import ApiError
from ..models import Batch, Environment, friendly_id
from ..triggering import (
    BatchItem,
    TriggerBody,
    cached_request,
    jwt_headers,
    save_request,
    trigger,
    validate_body,
)
from .common import (
    BATCH_TASK_PAYLOAD_MAXIMUM_SIZE,
    TASK_PAYLOAD_MAXIMUM_SIZE,
    check_size,
    header_dict,
    read_json,
    state_of,
)

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
MAX_V2_ITEMS = 500


def _check_headers(headers: dict[str, str]) -> None:
    if len(headers.get("idempotency-key", "")) > 2048:
        raise ApiError(
            400,
            "Headers Error",
            details=[
                {"path": ["idempotency-key"], "message": "idempotency-key must be 2048 characters or less"}
            ],
        )


def _request_key(headers: dict[str, str], *scope: str) -> str | None:
    key = headers.get("x-trigger-request-idempotency-key")
    return ":".join(("req", *scope, key)) if key else None


@router.post("/api/v1/tasks/{task_id:path}/trigger")
async def trigger_task(task_id: str, request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    check_size(request, TASK_PAYLOAD_MAXIMUM_SIZE)
    headers = header_dict(request)
    _check_headers(headers)
    body = validate_body(TriggerBody, await read_json(request))
    scoped = _request_key(headers, env.id, task_id)
    cached = cached_request(state, scoped)
    if cached in state.stores.runs:
        return JSONResponse(
            {"id": cached, "isCached": False}, headers=jwt_headers(env, f"read:runs:{cached}", state.now())
        )
    run, is_cached = trigger(state, env, task_id, body, headers)
    save_request(state, scoped, run.id)
    return JSONResponse(
        {"id": run.id, "isCached": is_cached}, headers=jwt_headers(env, f"read:runs:{run.id}", state.now())
    )


class LegacyBatchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    items: list[TriggerBody] = Field(max_length=100)


@router.post("/api/v1/tasks/{task_id:path}/batch")
async def legacy_batch(task_id: str, request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    check_size(request, TASK_PAYLOAD_MAXIMUM_SIZE)
    headers = header_dict(request)
    _check_headers(headers)
    body = validate_body(LegacyBatchBody, await read_json(request))
    if not body.items:
        raise ApiError(400, "No items to trigger")
    if state.behaviour(task_id) is None:
        raise ApiError(404, "Task not found")
    batch = _new_batch(state, env, len(body.items), headers.get("idempotency-key"))
    for index, item in enumerate(body.items):
        run, _ = trigger(state, env, task_id, item, None, batch_id=batch.id, trigger_function="batchTrigger")
        batch.run_ids[index] = run.id
    return JSONResponse(
        {"batchId": batch.id, "runs": list(batch.run_ids.values())},
        headers=jwt_headers(env, f"read:batch:{batch.id}", state.now()),
    )


class BatchV2Body(BaseModel):
    model_config = ConfigDict(extra="allow")
    items: list[BatchItem]
    parentRunId: str | None = None
    resumeParentOnCompletion: bool | None = None


def _new_batch(state: Any, env: Environment, count: int, key: str | None) -> Batch:
    now = state.now()
    batch = Batch(friendly_id("batch"), "cm" + secrets.token_hex(12), env, now, count, idempotency_key=key)
    batch.sealed, batch.sealed_at, batch.updated_at = True, now, now
    state.stores.batches[batch.id] = batch
    return batch


def _find_batch_by_key(state: Any, env: Environment, key: str | None) -> Batch | None:
    if not key:
        return None
    return next(
        (b for b in state.stores.batches.values() if b.env.id == env.id and b.idempotency_key == key), None
    )


async def _batch_v2(request: Request, env: Environment) -> tuple[Batch, list[tuple[str, str, bool]], bool]:
    state = state_of(request)
    check_size(request, BATCH_TASK_PAYLOAD_MAXIMUM_SIZE)
    headers = header_dict(request)
    _check_headers(headers)
    body = validate_body(BatchV2Body, await read_json(request))
    if not body.items:
        raise ApiError(400, "Batch cannot be triggered with no items")
    if len(body.items) > MAX_V2_ITEMS:
        raise ApiError(
            400,
            f"Batch size of {len(body.items)} is too large. Maximum allowed batch size is {MAX_V2_ITEMS}.",
        )
    tasks = sorted({item.task for item in body.items})
    scoped = _request_key(headers, env.id, *tasks)
    with state.lock:
        cached = state.stores.batches.get(cached_request(state, scoped) or "")
        existing = cached or _find_batch_by_key(state, env, headers.get("idempotency-key"))
        if existing is not None:
            runs = [(rid, state.stores.runs[rid].task, True) for rid in existing.run_ids.values()]
            return existing, runs, cached is None
        for item in body.items:
            if state.behaviour(item.task) is None:
                raise ApiError(422, f"Task not found: {item.task}")
        batch = _new_batch(state, env, len(body.items), headers.get("idempotency-key"))
        runs = []
        for index, item in enumerate(body.items):
            run, is_cached = trigger(
                state, env, item.task, item, None, batch_id=batch.id, trigger_function="batchTrigger"
            )
            batch.run_ids[index] = run.id
            runs.append((run.id, item.task, is_cached))
        save_request(state, scoped, batch.id)
        return batch, runs, False


@router.post("/api/v1/tasks/batch")
async def batch_v1(request: Request, env: SecretEnv) -> JSONResponse:
    batch, runs, is_cached = await _batch_v2(request, env)
    state = state_of(request)
    body: dict[str, Any] = {
        "id": batch.id,
        "isCached": is_cached,
        "runs": [{"id": rid, "taskIdentifier": task, "isCached": cached} for rid, task, cached in runs],
    }
    if batch.idempotency_key:
        body["idempotencyKey"] = batch.idempotency_key
    return JSONResponse(
        body, status_code=202, headers=jwt_headers(env, f"read:batch:{batch.id}", state.now())
    )


@router.post("/api/v2/tasks/batch")
async def batch_v2(request: Request, env: SecretEnv) -> JSONResponse:
    batch, _, _ = await _batch_v2(request, env)
    state = state_of(request)
    return JSONResponse(
        {"id": batch.id, "runCount": batch.run_count},
        status_code=202,
        headers=jwt_headers(env, f"read:batch:{batch.id}", state.now()),
    )
