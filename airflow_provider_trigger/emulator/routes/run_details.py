"""Per-run extras: metadata (GET/PUT), tags, events, trace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from ..auth import legacy_secret_env, secret_env
from ..errors import ApiError
from ..events import run_events as event_rows
from ..lifecycle import parse_packet
from ..models import Environment, Run, dumps, iso
from ..triggering import validate_body
from .common import check_size, find_run, legacy_validate, read_json, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
LegacyEnv = Annotated[Environment, Depends(legacy_secret_env)]
MAX_TAGS_PER_RUN = 10
METADATA_MAXIMUM_SIZE = 256 * 1024


@router.get("/api/v1/runs/{run_id}/metadata")
async def get_metadata(run_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    state = state_of(request)
    run = find_run(state, env, run_id)
    if run is None:
        raise ApiError(404, "Run not found")
    return {"metadata": run.metadata, "metadataType": run.metadata_type}


class MetadataOperation(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    key: str | None = None
    value: Any = None


class MetadataBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    metadata: dict[str, Any] | None = None
    operations: list[MetadataOperation] | None = None
    parentOperations: list[MetadataOperation] | None = None
    rootOperations: list[MetadataOperation] | None = None


def apply_operations(current: dict[str, Any], operations: list[MetadataOperation]) -> dict[str, Any]:
    """The SDK's metadata operations: set, delete, append, remove, increment, update."""
    data = dict(current)
    for op in operations:
        key = op.key or ""
        if op.type == "set":
            data[key] = op.value
        elif op.type == "delete":
            data.pop(key, None)
        elif op.type == "append":
            existing = data.get(key)
            data[key] = [
                *(existing if isinstance(existing, list) else [] if existing is None else [existing]),
                op.value,
            ]
        elif op.type == "remove":
            if isinstance(data.get(key), list):
                data[key] = [v for v in data[key] if v != op.value]
        elif op.type == "increment":
            if not isinstance(op.value, int | float) or isinstance(op.value, bool):
                raise ApiError(
                    400, f'Validation error: Expected number at "operations.value" for key {key!r}'
                )
            base = data.get(key)
            data[key] = (base if isinstance(base, int | float) else 0) + op.value
        elif op.type == "update" and isinstance(op.value, dict):
            data = dict(op.value)
    return data


@router.put("/api/v1/runs/{run_id}/metadata")
async def put_metadata(run_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    check_size(request, 2 * 1024 * 1024)
    body = validate_body(MetadataBody, await read_json(request))
    with state.lock:
        run = find_run(state, env, run_id)
        if run is None:
            raise ApiError(404, "Task Run not found")
        now = state.now()
        if state.view(run, now).finished:
            raise ApiError(422, "Cannot update metadata for a completed run")
        current = parse_packet(run.metadata, run.metadata_type) if run.metadata else {}
        current = (
            body.metadata if body.metadata is not None else (current if isinstance(current, dict) else {})
        )
        updated = apply_operations(current, body.operations or [])
        packet = dumps(updated)
        if len(packet.encode()) > METADATA_MAXIMUM_SIZE:
            raise ApiError(413, f"Metadata exceeds maximum size of {METADATA_MAXIMUM_SIZE} bytes")
        run.metadata, run.metadata_type, run.touched_at = packet, "application/json", now
        for target_id, ops in ((run.parent_id, body.parentOperations), (run.parent_id, body.rootOperations)):
            _apply_to(state.stores.runs.get(target_id or ""), ops, now)
        return {"metadata": updated}


def _apply_to(run: Run | None, operations: list[MetadataOperation] | None, now: float) -> None:
    if run is None or not operations:
        return
    current = json.loads(run.metadata) if run.metadata else {}
    run.metadata, run.touched_at = dumps(apply_operations(current, operations)), now


class TagsBody(BaseModel):
    tags: str | list[str]


@router.post("/api/v1/runs/{run_id}/tags")
async def add_tags(run_id: str, request: Request, env: LegacyEnv) -> dict[str, str]:
    state = state_of(request)
    body = legacy_validate(TagsBody, await read_json(request, legacy=True))
    tags = [body.tags] if isinstance(body.tags, str) else body.tags
    if any(len(t) > 128 for t in tags):
        raise ApiError(
            400, "Invalid request body", issues=[{"message": "String must contain at most 128 character(s)"}]
        )
    with state.lock:
        run = find_run(state, env, run_id)
        if run is None:
            raise ApiError(404, "Run not found")
        new = [t for t in dict.fromkeys(t for t in tags if t) if t not in run.tags]
        if not new:
            return {"message": "No new tags to add"}
        if len(run.tags) + len(new) > MAX_TAGS_PER_RUN:
            listed = ", ".join(f"'{t}'" for t in new)
            raise ApiError(
                422,
                f"Runs can only have {MAX_TAGS_PER_RUN} tags, "
                f"you're trying to set {len(run.tags) + len(new)}. "
                f"These tags have not been set: {listed}.",
            )
        run.tags.extend(new)
        run.touched_at = state.now()
        return {"message": f"Successfully set {len(new)} new tags."}


def _span(run: Run, state: Any) -> dict[str, Any]:
    view = state.view(run)
    start = view.started_at or run.created_at
    end = view.completed_at or state.now()
    return {
        "id": run.internal_id[:16],
        "runId": run.id,
        "data": {
            "message": run.task,
            "startTime": iso(start),
            "duration": int((end - start) * 1e9),
            "isError": view.status in {"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"},
            "isPartial": not view.finished,
            "isCancelled": view.status == "CANCELED",
            "level": "TRACE",
            "events": [],
        },
        "children": [],
    }


@router.get("/api/v1/runs/{run_id}/events")
async def run_events(run_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        run = find_run(state, env, run_id)
        if run is None:  # createLoaderApiRoute's shouldRetryNotFound: the run may not be written yet
            raise ApiError(404, "Not found", headers={"x-should-retry": "true"})
        now = state.now()
        return {"events": event_rows(run, state.view(run, now), now)}


@router.get("/api/v1/runs/{run_id}/trace")
async def run_trace(run_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    run = find_run(state, env, run_id)
    if run is None:
        raise ApiError(404, "Trace not found")
    return {"trace": {"traceId": run.internal_id, "rootSpan": _span(run, state)}}
