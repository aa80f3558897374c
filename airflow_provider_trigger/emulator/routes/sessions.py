"""Sessions: start (a run per session), list, retrieve, update, close."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..auth import secret_env
from ..errors import ApiError
from ..models import Environment, friendly_id, iso
from ..pagination import cursor_page
from ..state import EmulatorState
from ..triggering import TriggerBody, TriggerOptions, jwt_headers, public_jwt, trigger, validate_body
from .common import read_json, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]


# ----- sessions ----------------------------------------------------------------------------------
@dataclass
class Session:
    id: str
    env: Environment
    type: str
    task: str
    trigger_config: dict[str, Any]
    created_at: float
    external_id: str | None = None
    run_id: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    expires_at: float | None = None
    closed_at: float | None = None
    closed_reason: str | None = None
    updated_at: float = 0.0

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "externalId": self.external_id,
            "type": self.type,
            "taskIdentifier": self.task,
            "triggerConfig": self.trigger_config,
            "currentRunId": self.run_id,
            "tags": self.tags,
            "metadata": self.metadata,
            "closedAt": iso(self.closed_at),
            "closedReason": self.closed_reason,
            "expiresAt": iso(self.expires_at),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at or self.created_at),
        }

    def status(self, now: float) -> str:
        if self.closed_at is not None:
            return "CLOSED"
        return "EXPIRED" if self.expires_at is not None and self.expires_at <= now else "ACTIVE"


class TriggerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    basePayload: dict[str, Any]
    machine: str | None = None
    queue: str | None = Field(default=None, max_length=128)
    tags: list[str] | None = Field(default=None, max_length=5)


class CreateSession(BaseModel):
    type: str = Field(min_length=1, max_length=64)
    externalId: str | None = Field(default=None, min_length=1, max_length=256)
    taskIdentifier: str = Field(min_length=1, max_length=128)
    triggerConfig: TriggerConfig
    tags: list[str] | None = Field(default=None, max_length=10)
    metadata: dict[str, Any] | None = None
    expiresAt: str | None = None


def _sessions(state: EmulatorState) -> dict[str, Session]:
    store: dict[str, Session] = state.stores.sessions
    return store


def _find_session(state: EmulatorState, env: Environment, ref: str) -> Session:
    for s in _sessions(state).values():
        if s.env.id == env.id and ref in (s.id, s.external_id):
            return s
    raise ApiError(404, "Session not found")


@router.post("/api/v1/sessions")
async def create_session(request: Request, env: SecretEnv) -> JSONResponse:
    from ..parsing import parse_date

    state = state_of(request)
    body = validate_body(CreateSession, await read_json(request))
    if body.externalId and body.externalId.startswith("session_"):
        raise ApiError(400, "Validation error: externalId cannot start with 'session_'")
    now = state.now()
    with state.lock:
        existing = next(
            (
                s
                for s in _sessions(state).values()
                if body.externalId and s.env.id == env.id and s.external_id == body.externalId
            ),
            None,
        )
        if existing is not None:
            status = existing.status(now)
            if status != "ACTIVE":
                raise ApiError(
                    409, f"Session is {status.lower()}; use a different externalId to create a new session"
                )
            session, cached = existing, True
        else:
            config = body.triggerConfig
            raw_options: dict[str, Any] = {"tags": config.tags, "machine": config.machine}
            if config.queue:
                raw_options["queue"] = {"name": config.queue}
            options = validate_body(TriggerOptions, raw_options)
            run, _ = trigger(
                state, env, body.taskIdentifier, TriggerBody(payload=config.basePayload, options=options)
            )
            session = Session(
                friendly_id("session"),
                env,
                body.type,
                body.taskIdentifier,
                config.model_dump(exclude_none=True),
                now,
                body.externalId,
                run.id,
                body.tags or [],
                body.metadata,
                parse_date(body.expiresAt) if body.expiresAt else None,
            )
            _sessions(state)[session.id] = session
            cached = False
    token, _ = public_jwt(env, [f"read:sessions:{session.id}", f"write:sessions:{session.id}"], now)
    payload = {**session.to_api(), "runId": session.run_id, "publicAccessToken": token, "isCached": cached}
    return JSONResponse(
        payload,
        status_code=200 if cached else 201,
        headers=jwt_headers(env, f"read:runs:{session.run_id}", now),
    )


@router.get("/api/v1/sessions")
async def list_sessions(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    q = request.query_params
    status = q.get("filter[status]")
    if status and status not in {"ACTIVE", "CLOSED", "EXPIRED"}:
        raise ApiError(
            400, "Query Error", details=[{"path": ["filter[status]"], "message": "Invalid enum value"}]
        )
    now = state.now()
    rows = [
        s
        for s in reversed(_sessions(state).values())
        if s.env.id == env.id
        and (not status or s.status(now) == status)
        and (not q.get("filter[type]") or s.type == q.get("filter[type]"))
        and (not q.get("filter[taskIdentifier]") or s.task == q.get("filter[taskIdentifier]"))
        and (not q.get("filter[tags]") or q.get("filter[tags]") in s.tags)
    ]
    page, pagination = cursor_page(request, rows, lambda s: s.id, default=20, both="error400")
    return {"data": [s.to_api() for s in page], "pagination": pagination}


@router.get("/api/v1/sessions/{ref}")
async def retrieve_session(ref: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    return _find_session(state_of(request), env, ref).to_api()


class UpdateSession(BaseModel):
    tags: list[str] | None = Field(default=None, max_length=10)
    metadata: dict[str, Any] | None = None
    externalId: str | None = None


@router.patch("/api/v1/sessions/{ref}")
async def update_session(ref: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    raw = await read_json(request)
    body = validate_body(UpdateSession, raw)
    with state.lock:
        session = _find_session(state, env, ref)
        for name in body.model_fields_set:
            value = getattr(body, name)
            setattr(
                session,
                {"externalId": "external_id"}.get(name, name),
                value if name != "tags" else value or [],
            )
        session.updated_at = state.now()
        return session.to_api()


class CloseSession(BaseModel):
    reason: str | None = Field(default=None, max_length=256)


@router.post("/api/v1/sessions/{ref}/close")
async def close_session(ref: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    body = validate_body(CloseSession, await read_json(request, required=False))
    with state.lock:
        session = _find_session(state, env, ref)
        if session.closed_at is None:
            session.closed_at, session.closed_reason, session.updated_at = (
                state.now(),
                body.reason,
                state.now(),
            )
        return session.to_api()
