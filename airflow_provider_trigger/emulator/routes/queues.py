"""Queues: list (offset), retrieve by id or name, pause/resume, concurrency override/reset.

A paused queue holds its QUEUED runs: they start once it is resumed (see ``lifecycle.start_time``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..auth import secret_env
from ..errors import ApiError
from ..models import Environment, Queue, iso
from ..pagination import offset_page
from ..state import EmulatorState
from ..triggering import validate_body
from .common import read_json, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
ENV_CONCURRENCY_LIMIT = 100


def queue_item(state: EmulatorState, q: Queue) -> dict[str, Any]:
    now = state.now()
    running = queued = 0
    for run in state.stores.runs.values():
        if run.env.id == q.env.id and run.queue == q.name:
            status = state.view(run, now).status
            running += status == "EXECUTING"
            queued += status == "PENDING"
    limit = q.override if q.override is not None else q.concurrency_limit
    return {
        "id": q.id,
        "name": q.name.removeprefix("task/"),
        "type": q.type,
        "running": running,
        "queued": queued,
        "paused": q.paused,
        "concurrencyLimit": limit,
        "concurrency": {
            "current": limit,
            "base": q.concurrency_limit,
            "override": q.override,
            "overriddenBy": None,
            "overriddenAt": iso(q.overridden_at),
        },
        "releaseConcurrencyOnWaitpoint": True,
    }


def find_queue(state: EmulatorState, env: Environment, param: str, kind: str, message: str) -> Queue:
    name = param.replace("%2F", "/")
    for q in state.stores.queues.values():
        if q.env.id != env.id:
            continue
        if (
            (kind == "id" and q.id == name)
            or (kind == "task" and q.name == f"task/{name}")
            or (kind == "custom" and q.type == "custom" and q.name == name)
        ):
            return q
    raise ApiError(404, message)


def _type(value: str | None) -> str:
    kind = value or "id"
    if kind not in {"id", "task", "custom"}:
        raise ApiError(
            400,
            "Query Error",
            details=[{"path": ["type"], "message": "Invalid enum value. Expected 'task' | 'custom' | 'id'"}],
        )
    return kind


@router.get("/api/v1/queues")
async def list_queues(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        rows = sorted((q for q in state.stores.queues.values() if q.env.id == env.id), key=lambda q: q.name)
        page, pagination = offset_page(request, rows, default=25)
        return {"data": [queue_item(state, q) for q in page], "pagination": pagination}


@router.get("/api/v1/queues/{queue_param:path}/metrics")
async def queue_metrics(queue_param: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    period = request.query_params.get("period", "1h")
    return {
        "queue": queue_param,
        "period": period,
        "waitMs": {"p50": 0, "p95": 0},
        "peakQueued": 0,
        "startedCount": 0,
        "startedPerMin": 0,
        "throttledCount": 0,
        "bucketIntervalMs": 60000,
        "depthTrend": [],
    }


class TypedBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["id", "task", "custom"] | None = None


class PauseBody(TypedBody):
    action: Literal["pause", "resume"]


class OverrideBody(TypedBody):
    concurrencyLimit: int | None = Field(default=None, ge=0, le=100000)
    percent: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _exactly_one(self) -> OverrideBody:
        if (self.concurrencyLimit is None) == (self.percent is None):
            raise ValueError("Provide exactly one of `concurrencyLimit` or `percent`")
        return self


@router.post("/api/v1/queues/{queue_param:path}/pause")
async def pause_queue(queue_param: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    body = validate_body(PauseBody, await read_json(request))
    with state.lock:
        q = find_queue(state, env, queue_param, body.type or "id", "queue-not-found")
        now = state.now()
        if body.action == "pause" and not q.paused:
            q.paused_intervals.append((now, None))
        elif body.action == "resume" and q.paused:
            q.paused_intervals[-1] = (q.paused_intervals[-1][0], now)
        return queue_item(state, q)


@router.post("/api/v1/queues/{queue_param:path}/concurrency/override")
async def override_concurrency(queue_param: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    body = validate_body(OverrideBody, await read_json(request))
    with state.lock:
        q = find_queue(state, env, queue_param, body.type or "id", "Queue not found")
        base = q.concurrency_limit if q.concurrency_limit is not None else ENV_CONCURRENCY_LIMIT
        q.override = body.concurrencyLimit if body.percent is None else max(1, int(base * body.percent / 100))
        q.overridden_at = state.now()
        return queue_item(state, q)


@router.post("/api/v1/queues/{queue_param:path}/concurrency/reset")
async def reset_concurrency(queue_param: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    body = validate_body(TypedBody, await read_json(request))
    with state.lock:
        q = find_queue(state, env, queue_param, body.type or "id", "Queue not found")
        if q.override is None:
            raise ApiError(400, "Queue is not overridden")
        q.override = q.overridden_at = None
        return queue_item(state, q)


@router.get("/api/v1/queues/{queue_param:path}")
async def retrieve_queue(queue_param: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    kind = _type(request.query_params.get("type"))
    with state.lock:
        return queue_item(state, find_queue(state, env, queue_param, kind, "queue-not-found"))
