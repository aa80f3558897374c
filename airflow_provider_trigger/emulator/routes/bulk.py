"""Bulk actions (cancel/replay many runs, completing after ``config.bulk_action_duration``) and
idempotency-key reset."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..actions import settle
from ..auth import secret_env
from ..errors import ApiError, issues
from ..lifecycle import FILTER_STATUSES, compact
from ..models import BulkAction, Environment, Run, friendly_id, iso
from ..pagination import cursor_page
from ..parsing import duration_seconds, parse_date
from ..state import EmulatorState
from ..triggering import validate_body
from .common import check_size, read_json, runs_of, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
BULK_ACTION_MAX_RUN_IDS = 500


class BulkFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | list[str] | None = None
    taskIdentifier: str | list[str] | None = None
    version: str | list[str] | None = None
    tag: str | list[str] | None = None
    bulkAction: str | None = None
    schedule: str | None = None
    isTest: bool | None = None
    batch: str | None = None
    queue: dict[str, Any] | list[dict[str, Any]] | None = None
    machine: str | list[str] | None = None
    region: str | list[str] | None = None
    period: str | None = None
    from_: str | int | None = Field(default=None, alias="from")
    to: str | int | None = None


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["cancel", "replay"]
    name: str | None = Field(default=None, max_length=255)
    targetRegion: str | None = None
    filter: BulkFilter | None = None
    runIds: list[str] | None = None


def _many(value: Any) -> list[Any] | None:
    return None if value is None else value if isinstance(value, list) else [value]


def _time(value: str | int | None) -> float | None:
    if value is None:
        return None
    return value / 1000 if isinstance(value, int) else parse_date(value)


def _select(state: EmulatorState, env: Environment, f: BulkFilter) -> list[Run]:
    now = state.now()
    statuses = (
        set().union(*(FILTER_STATUSES.get(s, set()) for s in _many(f.status) or [])) if f.status else None
    )
    queues = [
        q.get("name") if q.get("type") != "task" else f"task/{q.get('name')}" for q in _many(f.queue) or []
    ]
    start, end = _time(f.from_), _time(f.to)
    if f.period and (seconds := duration_seconds(f.period)) is not None:
        start = now - seconds

    def keep(run: Run) -> bool:
        return all(
            [
                statuses is None or state.view(run, now).status in statuses,
                f.taskIdentifier is None or run.task in (_many(f.taskIdentifier) or []),
                f.version is None or run.version in (_many(f.version) or []),
                f.tag is None or bool(set(_many(f.tag) or []) & set(run.tags)),
                f.bulkAction is None or f.bulkAction in run.bulk_action_ids,
                f.schedule is None or run.schedule_id == f.schedule,
                f.isTest is None or run.is_test == f.isTest,
                f.batch is None or run.batch_id == f.batch,
                not queues or run.queue in queues,
                f.machine is None or run.machine in (_many(f.machine) or []),
                f.region is None or run.region in (_many(f.region) or []),
                start is None or run.created_at >= start,
                end is None or run.created_at <= end,
            ]
        )

    return [r for r in runs_of(state, env) if keep(r)]


def _object(state: EmulatorState, action: BulkAction) -> dict[str, Any]:
    if action.aborted_at is not None:
        status, completed = "ABORTED", action.aborted_at
    elif action.applied:
        status, completed = "COMPLETED", action.created_at + action.duration
    else:
        status, completed = "PENDING", None
    return compact(
        {
            "id": action.id,
            "name": action.name,
            "type": action.type,
            "status": status,
            "counts": {"total": len(action.run_ids), "success": action.success, "failure": action.failure},
            "createdAt": iso(action.created_at),
            "completedAt": iso(completed),
        }
    )


@router.post("/api/v1/bulk-actions")
async def create_bulk_action(request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    check_size(request, 1024 * 1024)
    raw = await read_json(request)
    try:
        body = BulkBody.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "Invalid request body", issues=issues(exc)) from None
    if (body.filter is not None) + (body.runIds is not None) != 1:
        raise ApiError(
            400,
            "Invalid request body",
            issues=[{"message": "Exactly one of filter or runIds must be provided"}],
        )
    if body.action == "cancel" and body.targetRegion is not None:
        raise ApiError(
            400, "Invalid request body", issues=[{"message": "targetRegion is only valid for replay"}]
        )
    if body.runIds is not None and len(body.runIds) > BULK_ACTION_MAX_RUN_IDS:
        raise ApiError(
            400,
            f"Too many runIds ({len(body.runIds)}). Maximum is {BULK_ACTION_MAX_RUN_IDS}. "
            "Use a filter to select more runs.",
        )
    if body.filter is not None and not body.filter.model_dump(exclude_none=True):
        raise ApiError(400, "Invalid request body", issues=[{"message": "At least one filter must be set"}])
    with state.lock:
        if body.runIds is not None:
            run_ids = [r for r in body.runIds if (run := state.stores.runs.get(r)) and run.env.id == env.id]
        else:
            assert body.filter is not None
            run_ids = [r.id for r in _select(state, env, body.filter)]
        action = BulkAction(
            friendly_id("bulk"),
            env,
            body.action.upper(),
            body.name,
            run_ids,
            state.now(),
            state.config.bulk_action_duration,
        )
        state.stores.bulk_actions[action.id] = action
    return JSONResponse({"id": action.id}, status_code=202)


def _actions(state: EmulatorState, env: Environment) -> list[BulkAction]:
    return [a for a in reversed(state.stores.bulk_actions.values()) if a.env.id == env.id]


@router.get("/api/v1/bulk-actions")
async def list_bulk_actions(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    settle(state)
    with state.lock:
        page, pagination = cursor_page(request, _actions(state, env), lambda a: a.id, both="error500")
        return {"data": [_object(state, a) for a in page], "pagination": pagination}


def _find(state: EmulatorState, env: Environment, action_id: str) -> BulkAction:
    action = state.stores.bulk_actions.get(action_id)
    if action is None or action.env.id != env.id:
        raise ApiError(404, "Not found", headers={"x-should-retry": "false"})
    return action


@router.get("/api/v1/bulk-actions/{action_id}")
async def retrieve_bulk_action(action_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    settle(state)
    return _object(state, _find(state, env, action_id))


@router.post("/api/v1/bulk-actions/{action_id}/abort")
async def abort_bulk_action(action_id: str, request: Request, env: SecretEnv) -> dict[str, str]:
    state = state_of(request)
    settle(state)
    with state.lock:
        action = _find(state, env, action_id)
        if not action.applied and action.aborted_at is None:
            action.aborted_at = state.now()
        return {"id": action.id}


class ResetBody(BaseModel):
    taskIdentifier: str


@router.post("/api/v1/idempotencyKeys/{key}/reset")
async def reset_idempotency_key(key: str, request: Request, env: SecretEnv) -> dict[str, str]:
    state = state_of(request)
    body = validate_body(ResetBody, await read_json(request))
    with state.lock:
        run_id = state.stores.idempotency.pop((env.id, body.taskIdentifier, key), None)
        run = state.stores.runs.get(run_id or "")
        if run is None:
            raise ApiError(404, f"No runs found with idempotency key: {key} and task: {body.taskIdentifier}")
        run.idempotency_key = run.idempotency_key_user = None
        return {"id": key}
