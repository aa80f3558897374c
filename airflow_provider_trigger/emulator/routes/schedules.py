"""Schedules (imperative CRUD with ``deduplicationKey`` upsert, activate/deactivate) and timezones."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from .. import cron
from ..auth import legacy_secret_env
from ..errors import ApiError
from ..lifecycle import compact
from ..models import Environment, Schedule, friendly_id, iso
from ..state import EmulatorState
from .common import legacy_validate, read_json, state_of

router = APIRouter()
LegacyEnv = Annotated[Environment, Depends(legacy_secret_env)]


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    task: str
    cron: str
    externalId: str | None = None
    timezone: str | None = None
    window: str | None = None


class CreateBody(UpdateBody):
    deduplicationKey: str


def _window_seconds(window: str) -> float | None:
    if match := re.fullmatch(r"(\d+)([mh])", window):
        return int(match.group(1)) * (60 if match.group(2) == "m" else 3600)
    return None


def _check(state: EmulatorState, body: UpdateBody) -> None:
    """``CheckScheduleService``: cron, timezone, window, then the task."""
    try:
        cron.parse(body.cron)
    except cron.CronError as exc:
        raise ApiError(422, f"Invalid cron expression: {exc}") from None
    if body.timezone and body.timezone not in cron.timezones():
        raise ApiError(
            422,
            f"Invalid IANA timezone: '{body.timezone}'. View the list of valid timezones at "
            "https://cloud.trigger.dev/timezones",
        )
    if body.window is not None:
        seconds = _window_seconds(body.window)
        pct = re.fullmatch(r"(\d+)%", body.window)
        if not ((seconds is not None and seconds <= 86400) or (pct and 0 < int(pct.group(1)) <= 100)):
            raise ApiError(
                422, "Schedule window must be a duration like '30m' or '2h' (max 24h) or a percentage"
            )
    behaviour = state.tasks.get(body.task)
    if behaviour is None and state.config.strict_tasks:
        raise ApiError(422, f"Task with identifier {body.task} not found in project.")
    if behaviour is not None and behaviour.scheduled is False:
        raise ApiError(422, f"Task with identifier {body.task} is not a scheduled task.")


def schedule_object(state: EmulatorState, s: Schedule) -> dict[str, Any]:
    next_at = cron.next_run(s.cron, s.timezone, state.now()) if s.active else None
    return compact(
        {
            "id": s.id,
            "type": s.type,
            "task": s.task,
            "active": s.active,
            "deduplicationKey": s.deduplication_key if s.user_dedup_key else None,
            "externalId": s.external_id,
            "generator": {"type": "CRON", "expression": s.cron, "description": cron.describe(s.cron)},
            "timezone": s.timezone,
            "window": s.window,
            "nextRun": iso(next_at),
            "nextRunEffectiveAt": iso(next_at),
            "environments": [
                compact(
                    {
                        "id": s.env.id,
                        "type": s.env.type,
                        "userName": "emulator" if s.env.slug == "dev" else None,
                    }
                )
            ],
        }
    )


def _find(state: EmulatorState, env: Environment, schedule_id: str) -> Schedule:
    s = state.stores.schedules.get(schedule_id)
    if s is None or s.env.project_ref != env.project_ref:
        raise ApiError(404, "Schedule not found")
    return s


def _apply(s: Schedule, body: UpdateBody) -> None:
    # As the server's #updateExistingSchedule: the task of an existing schedule never changes.
    s.cron, s.timezone = body.cron, body.timezone or "UTC"
    s.external_id, s.window = body.externalId, body.window


@router.post("/api/v1/schedules")
async def create_schedule(request: Request, env: LegacyEnv) -> dict[str, Any]:
    state = state_of(request)
    body = legacy_validate(CreateBody, await read_json(request, legacy=True))
    _check(state, body)
    with state.lock:
        key = body.deduplicationKey or friendly_id("dedup", 24)
        existing = next(
            (
                s
                for s in state.stores.schedules.values()
                if s.env.project_ref == env.project_ref and s.deduplication_key == key
            ),
            None,
        )
        if existing is not None:
            if existing.type == "DECLARATIVE":
                raise ApiError(422, "Cannot update a declarative schedule")
            _apply(existing, body)
            existing.env = env  # upsertTaskSchedule.server.ts deletes the other env's instance
            return schedule_object(state, existing)
        s = Schedule(
            friendly_id("sched"),
            env,
            body.task,
            body.cron,
            key,
            bool(body.deduplicationKey),
            created_at=state.now(),
        )
        _apply(s, body)
        state.stores.schedules[s.id] = s
        return schedule_object(state, s)


@router.get("/api/v1/schedules")
async def list_schedules(request: Request, env: LegacyEnv) -> dict[str, Any]:
    from ..pagination import offset_page

    state = state_of(request)
    q = request.query_params
    for name in ("page", "perPage"):
        value = q.get(name)
        if value is not None and (not value.isdigit() or int(value) < 1):
            raise ApiError(
                400,
                "Invalid request parameters",
                issues=[{"path": [name], "message": "Number must be greater than 0"}],
            )
    with state.lock:
        rows = [s for s in reversed(state.stores.schedules.values()) if s.env.id == env.id]
        page, pagination = offset_page(request, rows, default=20)
        return {"data": [schedule_object(state, s) for s in page], "pagination": pagination}


@router.get("/api/v1/schedules/{schedule_id}")
async def retrieve_schedule(schedule_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        return schedule_object(state, _find(state, env, schedule_id))


@router.put("/api/v1/schedules/{schedule_id}")
async def update_schedule(schedule_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    state = state_of(request)
    body = legacy_validate(UpdateBody, await read_json(request, legacy=True))
    with state.lock:
        s = _find(state, env, schedule_id)
        _check(state, body)
        if s.type == "DECLARATIVE":
            raise ApiError(422, "Cannot update a declarative schedule")
        _apply(s, body)
        return schedule_object(state, s)


@router.delete("/api/v1/schedules/{schedule_id}")
async def delete_schedule(schedule_id: str, request: Request, env: LegacyEnv) -> dict[str, str]:
    state = state_of(request)
    with state.lock:
        s = _find(state, env, schedule_id)
        if s.type == "DECLARATIVE":
            raise ApiError(422, "Cannot delete a declarative schedule")
        del state.stores.schedules[s.id]
        return {"id": s.id}


def _set_active(request: Request, env: Environment, schedule_id: str, active: bool) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        s = _find(state, env, schedule_id)
        if s.type == "DECLARATIVE":
            raise ApiError(422, "Cannot activate or deactivate a declarative schedule")
        s.active = active
        return schedule_object(state, s)


@router.post("/api/v1/schedules/{schedule_id}/activate")
async def activate_schedule(schedule_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    return _set_active(request, env, schedule_id, True)


@router.post("/api/v1/schedules/{schedule_id}/deactivate")
async def deactivate_schedule(schedule_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    return _set_active(request, env, schedule_id, False)


@router.get("/api/v1/timezones")
async def list_timezones(request: Request) -> dict[str, list[str]]:
    names = cron.timezones()
    if request.query_params.get("excludeUtc") == "true":
        return {"timezones": [n for n in names if n != "UTC"]}
    return {"timezones": list(names)}
