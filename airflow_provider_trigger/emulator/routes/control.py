"""Control API for an emulator running in another process (no auth), and a tiny run page.

- ``GET /_emulator/state``: runs, env vars (secrets masked), schedules, batches, queues
- ``GET|DELETE /_emulator/requests``: the request log
- ``POST /_emulator/faults`` ``{method?, path?, kind, count?, skip?, resetAfter?}`` or
  ``{rate, kinds?, seed?, method?, path?}``; ``DELETE /_emulator/faults``
- ``POST /_emulator/tasks/{task}`` ``{duration?, queueTime?, outcome?, error?, output?, scheduled?,
  logs?: [[level, message], …], stackTrace?}`` (without ``output`` the task echoes its payload)
- ``PATCH /_emulator/config``: any :class:`EmulatorConfig` field (``rateLimit: {burst, refill, interval}``,
  ``lenient: true``)
- ``POST /_emulator/queues/{name}``: deploy a custom queue
- ``POST /_emulator/branches`` ``{env: "preview"|"dev", branch}``
- ``POST /_emulator/reset``
- ``GET /runs/{runId}``: an HTML page with the run (the provider's run URL for the emulator)
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import fields
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from ..errors import ApiError
from ..faults import RateLimit
from ..models import OUTCOMES, TaskBehaviour
from ..triggering import validate_body
from .common import read_json, state_of
from .runs import retrieve_object

router = APIRouter(prefix="/_emulator")
page_router = APIRouter()
_MISSING = object()


@router.get("/state")
async def get_state(request: Request) -> dict[str, Any]:
    return state_of(request).summary()


@router.get("/requests")
async def get_requests(request: Request) -> list[dict[str, Any]]:
    return [r.to_dict() for r in state_of(request).requests]


@router.delete("/requests")
async def clear_requests(request: Request) -> dict[str, bool]:
    state_of(request).requests.clear()
    return {"success": True}


class FaultBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str | None = None
    path: str = "*"
    kind: int | str | None = None
    count: int | None = 1
    skip: int = 0
    resetAfter: float = 1.0
    rate: float | None = None
    kinds: list[int | str] | None = None
    seed: int = 0


@router.post("/faults")
async def add_fault(request: Request) -> dict[str, bool]:
    state = state_of(request)
    body = validate_body(FaultBody, await read_json(request))
    try:
        if body.rate is not None:
            state.faults.inject_random(
                body.rate,
                body.kinds,
                seed=body.seed,
                method=body.method,
                path=body.path,
                reset_after=body.resetAfter,
            )
        else:
            state.faults.inject(
                body.method,
                body.path,
                body.kind or 500,
                body.count,
                skip=body.skip,
                reset_after=body.resetAfter,
            )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return {"success": True}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, bool]:
    state_of(request).faults.clear()
    return {"success": True}


class BehaviourBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: float | None = None
    queueTime: float | None = None
    outcome: str = "COMPLETED"
    error: str = "Task failed"
    output: Any = _MISSING
    scheduled: bool | None = None
    logs: list[tuple[str, str]] = []
    stackTrace: str | None = None


@router.post("/queues/{name:path}")
async def declare_queue(name: str, request: Request) -> dict[str, bool]:
    state_of(request).declare_queue(name)
    return {"ok": True}


@router.post("/tasks/{task}")
async def set_task(task: str, request: Request) -> dict[str, bool]:
    raw = await read_json(request)
    body = validate_body(BehaviourBody, raw)
    if body.outcome not in OUTCOMES:
        raise ApiError(400, f"outcome must be one of {sorted(OUTCOMES)}")
    kwargs: dict[str, Any] = {}
    if isinstance(raw, dict) and "output" in raw:
        kwargs["output"] = raw["output"]
    try:
        behaviour = TaskBehaviour(
            task,
            body.duration,
            body.queueTime,
            body.outcome,
            body.error,
            scheduled=body.scheduled,
            logs=[tuple(entry) for entry in body.logs],
            stack_trace=body.stackTrace,
            **kwargs,
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    state_of(request).set_task(behaviour)
    return {"success": True}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@router.patch("/config")
async def patch_config(request: Request) -> dict[str, Any]:
    state = state_of(request)
    raw = await read_json(request)
    if not isinstance(raw, dict):
        raise ApiError(400, "Expected a JSON object")
    names = {f.name for f in fields(state.config)}
    with state.lock:
        for key, value in raw.items():
            name = _snake(key)
            if name not in names:
                raise ApiError(400, f"Unknown config field: {key}")
            if name in ("rate_limit", "jwt_rate_limit", "batch_rate_limit") and value is not None:
                value = RateLimit(**value)
            setattr(state.config, name, value)
        return {_: str(getattr(state.config, _)) for _ in sorted(names)}


class BranchBody(BaseModel):
    env: str = "preview"
    branch: str


@router.post("/branches")
async def add_branch(request: Request) -> dict[str, str]:
    state = state_of(request)
    body = validate_body(BranchBody, await read_json(request))
    if body.env not in {"dev", "preview"}:
        raise ApiError(400, "Branches exist only under dev or preview")
    child = state.add_branch(body.env, body.branch)
    return {"id": child.id, "branch": body.branch}


@router.post("/reset")
async def reset(request: Request) -> dict[str, bool]:
    state_of(request).reset()
    return {"success": True}


@page_router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: str, request: Request) -> HTMLResponse:
    state = state_of(request)
    with state.lock:
        run = state.stores.runs.get(run_id)
        if run is None:
            return HTMLResponse("<h1>Run not found</h1>", status_code=404)
        body = json.dumps(retrieve_object(state, run, "2025-07-16"), indent=2)
    title = html.escape(f"{run.id} · {run.task}")
    return HTMLResponse(
        f"<!doctype html><title>{title}</title><h1>{title}</h1>"
        f"<p>Environment: {html.escape(run.env.slug)}</p>"
        f"<pre>{html.escape(body)}</pre>"
    )
