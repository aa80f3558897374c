"""Public access tokens: ``POST /api/v1/auth/jwt`` (secret key) and the PAT exchange
``POST /api/v1/projects/{ref}/{env}/jwt`` — the only way a PAT can read realtime feeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from ..auth import project_env, secret_env
from ..errors import ApiError
from ..models import Environment
from ..parsing import duration_seconds
from ..triggering import public_jwt, validate_body
from .common import read_json, state_of

router = APIRouter()


class JwtBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    claims: dict[str, Any] | None = None
    expirationTime: str | int | None = None


def _mint(request: Request, env: Environment, body: JwtBody) -> dict[str, str]:
    scopes = (body.claims or {}).get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError(400, "Validation error: claims.scopes must be a list of strings")
    ttl: float | None = 3600.0
    if isinstance(body.expirationTime, int):
        ttl = body.expirationTime - state_of(request).now()
    elif isinstance(body.expirationTime, str):
        ttl = duration_seconds(body.expirationTime)
    if ttl is None or ttl <= 0:
        raise ApiError(400, "Invalid expirationTime")
    token, _ = public_jwt(env, scopes, state_of(request).now(), int(ttl))
    return {"token": token}


@router.post("/api/v1/auth/jwt")
async def mint_jwt(request: Request) -> dict[str, str]:
    env = secret_env(request)
    return _mint(request, env, validate_body(JwtBody, await read_json(request, required=False)))


@router.post("/api/v1/projects/{project_ref}/{slug}/jwt")
async def exchange_pat(project_ref: str, slug: str, request: Request) -> dict[str, str]:
    env = project_env(request, project_ref, slug)
    return _mint(request, env, validate_body(JwtBody, await read_json(request, required=False)))
