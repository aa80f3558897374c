"""Errors (grouped from failed runs) and query (empty results, the schema and dashboards)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..auth import secret_env
from ..errors import ApiError
from ..lifecycle import compact
from ..models import Environment, iso
from ..pagination import cursor_page
from ..state import EmulatorState
from ..triggering import validate_body
from .common import read_json, runs_of, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
_FAILED = {"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"}


# ----- errors ------------------------------------------------------------------------------------
def _error_groups(state: EmulatorState, env: Environment) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    decisions = state.stores.error_status
    now = state.now()
    for run in reversed(runs_of(state, env)):
        view = state.view(run, now)
        if view.status not in _FAILED or not run.error:
            continue
        fingerprint = hashlib.sha256(
            f"{run.task}:{run.error.get('name')}:{run.error.get('message')}".encode()
        ).hexdigest()
        error_id = f"error_{fingerprint[:24]}"
        group = groups.setdefault(
            error_id,
            {
                "id": error_id,
                "fingerprint": fingerprint,
                "taskIdentifier": run.task,
                "errorType": run.error.get("name", "Error"),
                "errorMessage": run.error.get("message", ""),
                "count": 0,
                "firstSeen": iso(view.completed_at),
                "resolvedAt": None,
                "ignoredUntil": None,
            },
        )
        group["count"] += 1
        group["lastSeen"] = iso(view.completed_at)
    for error_id, group in groups.items():
        group["status"] = decisions.get(error_id, {}).get("status", "unresolved")
        group.update({k: v for k, v in decisions.get(error_id, {}).items() if k != "status"})
    return sorted(groups.values(), key=lambda g: g["lastSeen"] or "", reverse=True)


@router.get("/api/v1/errors")
async def list_errors(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    q = request.query_params
    rows = [
        g
        for g in _error_groups(state, env)
        if (not q.get("filter[status]") or g["status"] in q["filter[status]"].split(","))
        and (
            not q.get("filter[taskIdentifier]")
            or g["taskIdentifier"] in q["filter[taskIdentifier]"].split(",")
        )
        and (not q.get("filter[search]") or q["filter[search]"].lower() in g["errorMessage"].lower())
    ]
    page, pagination = cursor_page(request, rows, lambda g: g["id"])
    return {"data": page, "pagination": pagination}


def _error(state: EmulatorState, env: Environment, error_id: str) -> dict[str, Any]:
    found = next((g for g in _error_groups(state, env) if g["id"] == error_id), None)
    if found is None:
        raise ApiError(404, "Error not found")
    return found


@router.get("/api/v1/errors/{error_id}")
async def retrieve_error(error_id: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    return _error(state_of(request), env, error_id)


async def _set_error_status(request: Request, env: Environment, error_id: str, status: str) -> dict[str, Any]:
    state = state_of(request)
    raw = await read_json(request, required=False)
    _error(state, env, error_id)
    decision: dict[str, Any] = {"status": status}
    if status == "resolved":
        decision["resolvedAt"] = iso(state.now())
    if status == "ignored" and isinstance(raw, dict) and isinstance(raw.get("duration"), int | float):
        decision["ignoredUntil"] = iso(state.now() + raw["duration"] / 1000)
    state.stores.error_status[error_id] = decision
    return _error(state, env, error_id)


@router.post("/api/v1/errors/{error_id}/{action}")
async def change_error(error_id: str, action: str, request: Request, env: SecretEnv) -> dict[str, Any]:
    statuses = {"resolve": "resolved", "ignore": "ignored", "unresolve": "unresolved"}
    if action not in statuses:
        raise ApiError(404, "Not found")
    return await _set_error_status(request, env, error_id, statuses[action])


# ----- query -------------------------------------------------------------------------------------
class QueryBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    query: str = Field(min_length=1)
    scope: Literal["environment", "project", "organization"] = "environment"
    format: Literal["json", "csv"] = "json"


@router.post("/api/v1/query")
async def execute_query(request: Request, env: SecretEnv) -> dict[str, Any]:
    body = validate_body(QueryBody, await read_json(request))
    return {"format": body.format, "results": [] if body.format == "json" else ""}


@router.get("/api/v1/query/schema")
async def query_schema(request: Request, env: SecretEnv) -> dict[str, Any]:
    return {"tables": []}


@router.get("/api/v1/query/dashboards")
async def query_dashboards(request: Request, env: SecretEnv) -> dict[str, Any]:
    return compact({"dashboards": []})
