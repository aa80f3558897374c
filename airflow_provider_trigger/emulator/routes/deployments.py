"""Deployments: forward-only cursor list and the current deployment (two seeded per environment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ..auth import secret_env
from ..errors import ApiError
from ..models import Deployment, Environment
from ..parsing import duration_seconds, int_param, parse_date
from .common import state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]


def _env_deployments(request: Request, env: Environment) -> list[Deployment]:
    state = state_of(request)
    key_env = env.key_env
    mine = [(d.created_at, n, d) for n, d in enumerate(state.stores.deployments) if d.env.id == key_env.id]
    return [d for _, _, d in sorted(mine, key=lambda item: (item[0], item[1]), reverse=True)]


@router.get("/api/v1/deployments")
async def list_deployments(request: Request, env: SecretEnv) -> dict[str, Any]:
    q = request.query_params
    raw_size = int_param(q.get("page[size]"), "page[size]", minimum=-(10**9))
    size = min(100, max(5, raw_size if raw_size is not None else 20))
    rows = _env_deployments(request, env)
    if status := q.get("status"):
        rows = [d for d in rows if d.status == status]
    start = parse_date(q["from"]) if q.get("from") else None
    end = parse_date(q["to"]) if q.get("to") else None
    if q.get("period") and (seconds := duration_seconds(q["period"])):
        start = state_of(request).now() - seconds
    rows = [
        d for d in rows if (start is None or d.created_at >= start) and (end is None or d.created_at <= end)
    ]
    after = q.get("page[after]")
    if after:
        ids = [d.id for d in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    page = rows[:size]
    pagination = {"next": page[-1].id} if len(rows) > size else {}
    return {"data": [d.to_api() for d in page], "pagination": pagination}


@router.get("/api/v1/deployments/current")
async def current_deployment(request: Request, env: SecretEnv) -> dict[str, Any]:
    rows = [d for d in _env_deployments(request, env) if d.status == "DEPLOYED"]
    if not rows:
        raise ApiError(404, "Deployment not found")
    return rows[0].to_api()
