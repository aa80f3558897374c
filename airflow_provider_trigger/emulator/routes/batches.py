"""Batches: the 2-phase v3 API (create + NDJSON items), retrieve (v1, v2) and results."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..auth import legacy_secret_env, secret_env
from ..errors import ApiError, zod_message
from ..lifecycle import compact
from ..models import Batch, Environment, friendly_id, iso
from ..state import EmulatorState
from ..triggering import BatchItem, cached_request, jwt_headers, save_request, trigger, validate_body
from .common import check_size, read_json, state_of
from .runs import execution_result

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
STREAMING_BATCH_MAX_ITEMS = 1000
_FAILED = {"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT", "CANCELED"}


class CreateBatchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    runCount: int
    taskIdentifiers: list[str] | None = None
    parentRunId: str | None = None
    resumeParentOnCompletion: bool | None = None
    idempotencyKey: str | None = Field(default=None, max_length=2048)
    idempotencyKeyOptions: dict[str, Any] | None = None


@router.post("/api/v3/batches")
async def create_batch(request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    check_size(request, 131_072)
    body = validate_body(CreateBatchBody, await read_json(request))
    if body.runCount <= 0:
        raise ApiError(400, "runCount must be a positive integer")
    if body.runCount > STREAMING_BATCH_MAX_ITEMS:
        raise ApiError(
            400, f"Batch runCount of {body.runCount} exceeds maximum allowed of {STREAMING_BATCH_MAX_ITEMS}."
        )
    scope = sorted(set(body.taskIdentifiers or []))
    scoped = ":".join(("batch", env.id, *scope, body.idempotencyKey)) if body.idempotencyKey else None
    with state.lock:
        cached = state.stores.batches.get(cached_request(state, scoped) or "")
        if cached is not None:
            return JSONResponse(
                {"id": cached.id, "runCount": cached.run_count, "isCached": True},
                headers=jwt_headers(env, f"read:batch:{cached.id}", state.now()),
            )
        now = state.now()
        batch = Batch(friendly_id("batch"), "cm" + secrets.token_hex(12), env, now, body.runCount)
        batch.idempotency_key, batch.updated_at = body.idempotencyKey, now
        state.stores.batches[batch.id] = batch
        save_request(state, scoped, batch.id)
    response: dict[str, Any] = {"id": batch.id, "runCount": batch.run_count, "isCached": False}
    if body.idempotencyKey:
        response["idempotencyKey"] = body.idempotencyKey
    return JSONResponse(
        response, status_code=202, headers=jwt_headers(env, f"read:batch:{batch.id}", state.now())
    )


def _ndjson_items(raw: bytes) -> list[BatchItem | tuple[int, str]]:
    items: list[BatchItem | tuple[int, str]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise ApiError(400, f"Invalid JSON at line {number}") from None
        try:
            items.append(_Item.model_validate(data))
        except ValidationError as exc:
            raise ApiError(422, zod_message(exc)) from None
    return items


class _Item(BatchItem):
    index: int = Field(ge=0)


@router.post("/api/v3/batches/{batch_id}/items")
async def stream_items(batch_id: str, request: Request) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    if "application/x-ndjson" not in content_type and "application/ndjson" not in content_type:
        raise ApiError(415, "Content-Type must be application/x-ndjson or application/ndjson")
    env = secret_env(request)
    state = state_of(request)
    raw = await request.body()
    items = _ndjson_items(raw)
    with state.lock:
        batch = state.stores.batches.get(batch_id)
        if batch is None or batch.env.id != env.id:
            raise ApiError(422, f"Batch {batch_id} not found")
        if batch.sealed:
            return JSONResponse(
                {
                    "id": batch.id,
                    "itemsAccepted": 0,
                    "itemsDeduplicated": len(items),
                    "sealed": True,
                    "runCount": batch.run_count,
                }
            )
        accepted = deduplicated = 0
        for item in items:
            assert isinstance(item, _Item)
            if item.index in batch.run_ids or item.index >= batch.run_count:
                deduplicated += 1
                continue
            try:
                run, _ = trigger(
                    state, env, item.task, item, None, batch_id=batch.id, trigger_function="batchTrigger"
                )
            except ApiError as exc:
                batch.errors.append(
                    {
                        "index": item.index,
                        "taskIdentifier": item.task,
                        "error": str(exc),
                        "errorCode": "TRIGGER_ERROR",
                    }
                )
                batch.run_ids[item.index] = ""
            else:
                batch.run_ids[item.index] = run.id
            accepted += 1
        batch.updated_at = state.now()
        if len(batch.run_ids) >= batch.run_count:
            batch.sealed, batch.sealed_at = True, state.now()
            return JSONResponse(
                {
                    "id": batch.id,
                    "itemsAccepted": accepted,
                    "itemsDeduplicated": deduplicated,
                    "sealed": True,
                    "runCount": batch.run_count,
                }
            )
        return JSONResponse(
            {
                "id": batch.id,
                "itemsAccepted": accepted,
                "itemsDeduplicated": deduplicated,
                "sealed": False,
                "enqueuedCount": len(batch.run_ids),
                "expectedCount": batch.run_count,
                "runCount": batch.run_count,
            }
        )


def batch_status(state: EmulatorState, batch: Batch) -> tuple[str, int, int, float]:
    """(status, successful, failed, updatedAt) derived from the batch's runs."""
    if not batch.sealed:
        return "PENDING", 0, 0, batch.updated_at
    now = state.now()
    views = [state.view(state.stores.runs[r], now) for r in batch.run_ids.values() if r]
    updated = max([batch.updated_at, *(v.updated_at for v in views)])
    if batch.errors:
        return "PARTIAL_FAILED", 0, 0, updated
    if all(v.finished for v in views):
        failed = sum(1 for v in views if v.status in _FAILED)
        return "COMPLETED", len(views) - failed, failed, updated
    return "PROCESSING", 0, 0, updated


def _find(state: EmulatorState, env: Environment, batch_id: str) -> Batch:
    batch = state.stores.batches.get(batch_id)
    if batch is None or batch.env.id != env.id:
        raise ApiError(404, "Not found", headers={"x-should-retry": "true"})
    return batch


def _errors(batch: Batch) -> list[dict[str, Any]]:
    return [compact(e) for e in batch.errors]


def _batch_fields(batch: Batch, status: str, updated: Any) -> dict[str, Any]:
    """The fields the v1 and v2 batch objects share."""
    return {
        "id": batch.id,
        "status": status,
        "idempotencyKey": batch.idempotency_key,
        "createdAt": iso(batch.created_at),
        "updatedAt": iso(updated),
        "runCount": batch.run_count,
        "runs": [r for _, r in sorted(batch.run_ids.items()) if r],
    }


@router.get("/api/v1/batches/{batch_id}")
async def retrieve_batch_v1(batch_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        batch = _find(state, env, batch_id)
        status, ok, failed, updated = batch_status(state, batch)
        return compact(
            {
                **_batch_fields(batch, status, updated),
                "successfulRunCount": ok if status == "COMPLETED" else None,
                "failedRunCount": failed if status == "COMPLETED" else None,
                "errors": _errors(batch) or None,
            }
        )


@router.get("/api/v2/batches/{batch_id}")
async def retrieve_batch_v2(batch_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        batch = _find(state, env, batch_id)
        status, _, _, updated = batch_status(state, batch)
        return compact(
            {
                **_batch_fields(batch, status, updated),
                "processingCompletedAt": iso(batch.sealed_at),
                "processing": compact({"completedAt": iso(batch.sealed_at), "errors": _errors(batch)}),
            }
        )


@router.get("/api/v1/batches/{batch_id}/results")
async def batch_results(batch_id: str, request: Request) -> dict[str, Any]:
    env = legacy_secret_env(request)
    state = state_of(request)
    with state.lock:
        batch = state.stores.batches.get(batch_id)
        if batch is None or batch.env.id != env.id:
            raise ApiError(404, "Batch not found")
        now = state.now()
        items = []
        for _, run_id in sorted(batch.run_ids.items()):
            run = state.stores.runs.get(run_id)
            if run is None:
                continue
            view = state.view(run, now)
            if view.finished:
                items.append(execution_result(run, view.status, view))
        return {"id": batch.id, "items": items}
