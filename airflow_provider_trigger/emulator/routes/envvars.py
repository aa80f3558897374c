"""Environment variables: list/create/import/retrieve/update/delete, plus the CLI's resolved list."""

from __future__ import annotations

import io
from typing import Any

from dotenv import dotenv_values
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from ..auth import project_env, secret_env
from ..errors import ApiError, issues
from ..models import Environment, EnvVar
from ..state import EmulatorState
from .common import read_json, state_of

router = APIRouter()
BLACKLISTED = {"TRIGGER_SECRET_KEY", "TRIGGER_API_URL"}
_TITLES = {
    "DEVELOPMENT": "Development",
    "STAGING": "Staging",
    "PRODUCTION": "Production",
    "PREVIEW": "Preview",
}


def _vars(state: EmulatorState, env: Environment) -> dict[str, EnvVar]:
    return state.stores.envvars.setdefault(env.id, {})


def resolved(state: EmulatorState, env: Environment) -> dict[str, EnvVar]:
    """The env's variables; a branch env includes its parent's (its own win)."""
    merged = dict(_vars(state, env.parent)) if env.parent else {}
    merged.update(_vars(state, env))
    return merged


def _known_in_project(state: EmulatorState, env: Environment, name: str) -> bool:
    return any(
        name in values
        for env_id, values in state.stores.envvars.items()
        if any(e.id == env_id and e.project_ref == env.project_ref for e in _all_envs(state))
    )


def _all_envs(state: EmulatorState) -> list[Environment]:
    return [*state.envs.values(), *state.branches.values()]


def write(
    state: EmulatorState,
    env: Environment,
    variables: dict[str, str],
    *,
    override: bool,
    is_secret: bool | None,
) -> None:
    """The repository's ``create``: drop blacklisted/empty entries, refuse existing keys unless override."""
    values = {k: v for k, v in variables.items() if k not in BLACKLISTED}
    removed = len(values) != len(variables)
    values = {k: v for k, v in values.items() if k.strip() and v.strip()}
    if not values:
        suffix = " All the variables submitted are not allowed." if removed else ""
        raise ApiError(400, f"You must set at least one valid variable.{suffix}")
    with state.lock:
        store = _vars(state, env)
        existing = [k for k in values if k in store]
        if existing and not override:
            raise ApiError(
                400,
                "Some of the variables are already set for these environments. "
                "Set override to true to override them.",
                variableErrors=[
                    {"key": k, "error": f"Variable already set in {_TITLES[env.type]}."} for k in existing
                ],
            )
        for key, value in values.items():
            secret = is_secret if is_secret is not None else (store[key].is_secret if key in store else False)
            store[key] = EnvVar(value, secret)


def _listing(variables: dict[str, EnvVar]) -> list[dict[str, Any]]:
    return [
        {"name": k, "value": "<redacted>" if v.is_secret else v.value, "isSecret": v.is_secret}
        for k, v in variables.items()
    ]


@router.get("/api/v1/projects/{project_ref}/envvars/{slug}")
async def list_envvars(project_ref: str, slug: str, request: Request) -> list[dict[str, Any]]:
    env = project_env(request, project_ref, slug)
    state = state_of(request)
    with state.lock:
        return _listing(resolved(state, env))


class CreateBody(BaseModel):
    name: str
    value: str
    isSecret: bool | None = None


def _legacy_body(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "Invalid request body", issues=issues(exc)) from None


@router.post("/api/v1/projects/{project_ref}/envvars/{slug}")
async def create_envvar(project_ref: str, slug: str, request: Request) -> dict[str, bool]:
    env = project_env(request, project_ref, slug)
    body = _legacy_body(CreateBody, await read_json(request, legacy=True))
    write(state_of(request), env, {body.name: body.value}, override=True, is_secret=body.isSecret)
    return {"success": True}


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    variables: dict[str, str]
    parentVariables: dict[str, str] | None = None
    override: bool | None = None
    isSecret: bool | None = None
    source: dict[str, Any] | None = None


async def _import_body(request: Request) -> ImportBody:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("variables")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "Invalid file")
        text = (await upload.read()).decode("utf-8", "replace")
        parsed = {k: v or "" for k, v in dotenv_values(stream=io.StringIO(text)).items()}
        return ImportBody(variables=parsed, override=form.get("override") == "true")
    raw = await read_json(request, legacy=True)
    try:
        return ImportBody.model_validate(raw)
    except ValidationError:
        raise ApiError(400, "Invalid body") from None


@router.post("/api/v1/projects/{project_ref}/envvars/{slug}/import")
async def import_envvars(project_ref: str, slug: str, request: Request) -> dict[str, bool]:
    env = project_env(request, project_ref, slug)
    state = state_of(request)
    body = await _import_body(request)
    override = bool(body.override)
    if env.parent is not None and body.parentVariables:
        failures = []
        for target, variables in ((env, body.variables), (env.parent, body.parentVariables)):
            try:
                write(state, target, variables, override=override, is_secret=body.isSecret)
            except ApiError as exc:
                failures.append(exc)
        if len(failures) == 2:
            raise failures[0]
        return {"success": True}
    write(state, env, body.variables, override=override, is_secret=body.isSecret)
    return {"success": True}


def _existing(request: Request, project_ref: str, slug: str, name: str) -> tuple[EmulatorState, Environment]:
    env = project_env(request, project_ref, slug)
    state = state_of(request)
    if not _known_in_project(state, env, name):
        raise ApiError(404, "Environment variable not found")
    return state, env


@router.get("/api/v1/projects/{project_ref}/envvars/{slug}/{name}")
async def retrieve_envvar(project_ref: str, slug: str, name: str, request: Request) -> dict[str, Any]:
    state, env = _existing(request, project_ref, slug, name)
    with state.lock:
        found = [v for v in _listing(resolved(state, env)) if v["name"] == name]
        if not found:
            raise ApiError(404, "Environment variable not found")
        return found[0]


class UpdateBody(BaseModel):
    value: str


@router.api_route("/api/v1/projects/{project_ref}/envvars/{slug}/{name}", methods=["PUT", "POST"])
async def update_envvar(project_ref: str, slug: str, name: str, request: Request) -> dict[str, bool]:
    state, env = _existing(request, project_ref, slug, name)
    body = _legacy_body(UpdateBody, await read_json(request, legacy=True))
    with state.lock:
        store = _vars(state, env)
        if name not in store:
            raise ApiError(400, "Environment variable value not found")
        store[name] = EnvVar(body.value, store[name].is_secret)
    return {"success": True}


@router.delete("/api/v1/projects/{project_ref}/envvars/{slug}/{name}")
async def delete_envvar(project_ref: str, slug: str, name: str, request: Request) -> dict[str, bool]:
    state, env = _existing(request, project_ref, slug, name)
    with state.lock:
        if _vars(state, env).pop(name, None) is None:
            raise ApiError(400, "Environment variable value not found")
    return {"success": True}


@router.get("/api/v1/projects/{project_ref}/envvars")
async def cli_envvars(project_ref: str, request: Request) -> dict[str, Any]:
    env = secret_env(request)
    state = state_of(request)
    if env.project_ref != project_ref:
        raise ApiError(404, "Project not found")
    with state.lock:
        return {"variables": {k: v.value for k, v in resolved(state, env).items()}}
