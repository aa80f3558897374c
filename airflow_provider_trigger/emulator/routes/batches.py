"""Batches: the 2-phase v3 API (create + NDJSON items), retrieve (v1, v2) and results."""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..auth import legacy_secret_env, secret_env
from ..batching import ITEM_MAXIMUM_SIZE, seal, settle_batches
from ..batching import status as status_of
from ..errors import ApiError
from ..lifecycle import compact
from ..models import Batch, Environment, friendly_id, iso
from ..state import EmulatorState
from ..triggering import cached_request, jwt_headers, save_request, validate_body
from .common import check_size, read_json, state_of
from .runs import execution_result

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
STREAMING_BATCH_MAX_ITEMS = 1000


class CreateBatchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    runCount: int
    taskIdentifiers: list[str] | None = None
    parentRunId: str | None = None
    resumeParentOnCompletion: bool | None = None
    idempotencyKey: str | None = Field(default=None, max_length=2048)
    idempotencyKeyOptions: dict[str, Any] | None = None


def _rate_limited(state: EmulatorState, env: Environment, items: int) -> None:
    """The batch limiter, counted in items; its 429 resets in epoch seconds (api.v3.batches.ts)."""
    limit = state.config.batch_rate_limit
    if limit is None or state.config.lenient:
        return
    allowed, lim, remaining, reset_ms = state.batch_rate_limiter.take(limit, env.key_env.id, items)
    if allowed:
        return
    reset_at = datetime.fromtimestamp(reset_ms / 1000, UTC).isoformat(timespec="milliseconds")
    raise ApiError(
        429,
        f"Batch rate limit exceeded. Limit resets at {reset_at.replace('+00:00', 'Z')}",
        headers={
            "X-RateLimit-Limit": str(lim),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(reset_ms // 1000),
            "Retry-After": str(max(1, math.ceil(reset_ms / 1000 - time.time()))),
        },
    )


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
        _rate_limited(state, env, body.runCount)
        if body.idempotencyKey and any(
            b.env.id == env.id and b.idempotency_key == body.idempotencyKey
            for b in state.stores.batches.values()
        ):  # BatchTaskRun's unique (environment, idempotencyKey): createBatch.server.ts answers P2002
            raise ApiError(
                422, "Cannot create batch as it has already been created with the same idempotency key."
            )
        now = state.now()
        batch = Batch(friendly_id("batch"), "cm" + secrets.token_hex(12), env, now, body.runCount)
        batch.idempotency_key, batch.updated_at, batch.streamed = body.idempotencyKey, now, True
        batch.task_identifiers = tuple(scope)
        state.stores.batches[batch.id] = batch
        save_request(state, scoped, batch.id)
    response: dict[str, Any] = {"id": batch.id, "runCount": batch.run_count, "isCached": False}
    if body.idempotencyKey:
        response["idempotencyKey"] = body.idempotencyKey
    return JSONResponse(
        response, status_code=202, headers=jwt_headers(env, f"read:batch:{batch.id}", state.now())
    )


_INDEX = re.compile(rb'"index"\s*:\s*(\d+)')
_TASK = re.compile(rb'"task"\s*:\s*"([^"]*)"')


def _ndjson_items(raw: bytes, run_count: int) -> list[tuple[int, dict[str, Any]] | ApiError]:
    """Each line's (index, item), or the error that stops the stream at that line.

    An item over 3 MB becomes a marker processed into a PAYLOAD_TOO_LARGE run; an index at or past
    ``runCount`` is a 422 (streamBatchItems.server.ts ``#processItem``). Options are validated only
    when the item is processed, so e.g. more than 10 tags fail that item, not the stream.
    """
    items: list[tuple[int, dict[str, Any]] | ApiError] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > ITEM_MAXIMUM_SIZE:
            index_match, task_match = _INDEX.search(line[:512]), _TASK.search(line[:512])
            marker = int(index_match.group(1)) if index_match else -1
            data: Any = {"index": marker, "task": task_match.group(1).decode() if task_match else "unknown"}
            data["__error"] = f"Batch item payload is too large ({len(line) / 1024:.1f} KB)."
        else:
            try:
                data = json.loads(line)
            except ValueError:
                items.append(ApiError(400, f"Invalid JSON at line {number}"))
                break
        found = data.get("index") if isinstance(data, dict) else None
        if (
            not isinstance(found, int)
            or isinstance(found, bool)
            or found < 0
            or not isinstance(data.get("task"), str)
        ):
            where = f"index {found}" if isinstance(found, int) else "unknown index"
            items.append(ApiError(422, f"Invalid item at {where}: index and task are required"))
            break
        if found >= run_count:
            items.append(ApiError(422, f"Item index {found} exceeds batch runCount {run_count}"))
            break
        items.append((found, data))
    return items


@router.post("/api/v3/batches/{batch_id}/items")
async def stream_items(batch_id: str, request: Request) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    if "application/x-ndjson" not in content_type and "application/ndjson" not in content_type:
        raise ApiError(415, "Content-Type must be application/x-ndjson or application/ndjson")
    env = secret_env(request)
    state = state_of(request)
    raw = await request.body()
    with state.lock:
        settle_batches(state)
        batch = state.stores.batches.get(batch_id)
        if batch is None or batch.env.id != env.id:
            raise ApiError(422, f"Batch {batch_id} not found")
        if batch.sealed and batch.status != "ABORTED":
            return JSONResponse(
                {
                    "id": batch.id,
                    "itemsAccepted": 0,
                    "itemsDeduplicated": 0,
                    "sealed": True,
                    "runCount": batch.run_count,
                }
            )
        if batch.sealed or not batch.streamed:
            raise ApiError(
                422, f"Batch {batch.id} is not in PENDING status (current: {batch_status(state, batch)[0]})"
            )
        accepted = deduplicated = 0
        for entry in _ndjson_items(raw, batch.run_count):
            if isinstance(entry, ApiError):
                batch.updated_at = state.now()
                raise entry
            index, item = entry
            if index in batch.pending_items:
                deduplicated += 1
                continue
            batch.pending_items[index] = item
            accepted += 1
        batch.updated_at = state.now()
        if len(batch.pending_items) >= batch.run_count:
            seal(state, batch)
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
                "enqueuedCount": len(batch.pending_items),
                "expectedCount": batch.run_count,
                "runCount": batch.run_count,
            }
        )


def batch_status(state: EmulatorState, batch: Batch) -> tuple[str, float]:
    """(status, updatedAt) at the state's clock (see ``batching.status``)."""
    settle_batches(state)
    return status_of(state, batch)


def _find(state: EmulatorState, env: Environment, batch_id: str) -> Batch:
    batch = state.stores.batches.get(batch_id)
    if batch is None or batch.env.id != env.id:
        raise ApiError(404, "Not found", headers={"x-should-retry": "true"})
    return batch


def _errors(batch: Batch) -> list[dict[str, Any]]:
    return [compact(e) for e in batch.errors]


def _batch_fields(batch: Batch, status: str, updated: Any) -> dict[str, Any]:
    """The fields the v1 and v2 batch objects share; ``runs`` stays ``[]`` until processing ends."""
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
        status, updated = batch_status(state, batch)
        ok, failed = batch.successful_count, batch.failed_count
        if not batch.streamed and status == "COMPLETED":
            ok, failed = len(batch.run_ids), 0
        return compact(
            {
                **_batch_fields(batch, status, updated),
                "successfulRunCount": ok,
                "failedRunCount": failed,
                "errors": _errors(batch) or None,
            }
        )


@router.get("/api/v2/batches/{batch_id}")
async def retrieve_batch_v2(batch_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        batch = _find(state, env, batch_id)
        status, updated = batch_status(state, batch)
        completed = batch.processed_at if batch.streamed else batch.sealed_at
        return compact(
            {
                **_batch_fields(batch, status, updated),
                "processingCompletedAt": iso(completed),
                "processing": compact({"completedAt": iso(completed), "errors": _errors(batch)}),
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
        settle_batches(state)
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
