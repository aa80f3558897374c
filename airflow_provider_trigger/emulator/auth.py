"""Bearer authentication as the server does it: secret keys scope a project + environment, PATs
only work on PAT routes, preview keys need ``x-trigger-branch``.

Branches: with ``config.auto_create_branches`` (the default) any branch named in
``x-trigger-branch`` is created on first use under the key's dev or preview environment; with it off
only branches added by :meth:`EmulatorState.add_branch` (or ``POST /_emulator/branches``) exist and
others get ``401 "No matching branch env"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from .errors import ApiError
from .models import Environment

if TYPE_CHECKING:
    from .state import EmulatorState

MISSING = "Invalid or Missing API key"
INVALID = "Invalid API key"
LEGACY = "Invalid or Missing API Key"


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    token = value.removeprefix("Bearer ").strip() if value.startswith("Bearer ") else value.strip()
    return token or None


def _branch(request: Request) -> str | None:
    branch = (request.headers.get("x-trigger-branch") or "").strip()
    return branch or None


def resolve_secret(state: EmulatorState, token: str | None, branch: str | None) -> Environment:
    """The environment a secret key (plus optional branch) selects, or a 401 ApiError."""
    if not token:
        raise ApiError(401, MISSING)
    env = state.env_by_key(token)
    if env is None:
        raise ApiError(401, INVALID)
    if env.type == "PREVIEW" and branch is None:
        raise ApiError(401, "x-trigger-branch header required for preview env")
    if env.type == "DEVELOPMENT" and branch == "default":
        branch = None
    if branch is not None and env.type in {"PREVIEW", "DEVELOPMENT"}:
        child = state.branch_env(env, branch)
        if child is None:
            raise ApiError(401, "No matching branch env")
        return child
    return env


def secret_env(request: Request) -> Environment:
    """Dependency for environment-scoped routes (apiBuilder routes)."""
    state: EmulatorState = request.app.state.emulator
    return resolve_secret(state, bearer(request), _branch(request))


def legacy_secret_env(request: Request) -> Environment:
    """Dependency for routes still on ``authenticateApiRequest``: every failure is the same 401."""
    state: EmulatorState = request.app.state.emulator
    try:
        return resolve_secret(state, bearer(request), _branch(request))
    except ApiError as exc:
        raise ApiError(401, LEGACY) from exc


def pat_user(request: Request) -> str:
    """Dependency for PAT routes: returns the PAT."""
    state: EmulatorState = request.app.state.emulator
    token = bearer(request)
    if not token or not token.startswith(("tr_pat_", "tr_uat_")):
        raise ApiError(401, "Invalid or Missing PAT")
    if token not in state.pats:
        raise ApiError(401, "Invalid PAT")
    return token


def project_env(request: Request, project_ref: str, slug: str) -> Environment:
    """Env-var routes: a secret key of that project + env, or a PAT of the project."""
    state: EmulatorState = request.app.state.emulator
    token = bearer(request)
    if not token:
        raise ApiError(401, MISSING)
    slug = "stg" if slug == "staging" else slug
    branch = _branch(request)
    if slug == "dev" and branch == "default":
        branch = None
    if token.startswith(("tr_pat_", "tr_uat_", "tr_oat_")):
        if token not in state.pats:
            raise ApiError(401, "Invalid or missing personal access token")
        env = state.env_by_slug(project_ref, slug)
        if env is None:
            if project_ref not in state.project_refs:
                raise ApiError(404, "Project not found")
            raise ApiError(404, "Environment not found")
        if branch is not None and env.type in {"PREVIEW", "DEVELOPMENT"}:
            child = state.branch_env(env, branch)
            if child is None:
                raise ApiError(404, "Branch not found")
            return child
        return env
    env = resolve_secret(state, token, branch)
    if env.project_ref != project_ref:
        raise ApiError(
            400,
            "Invalid project ref for this API key. "
            "Make sure you are using an API key associated with that project.",
        )
    if env.key_env.slug != slug:
        raise ApiError(
            400,
            "Invalid environment slug for this API key. "
            "Make sure you are using an API key associated with that environment.",
        )
    return env
