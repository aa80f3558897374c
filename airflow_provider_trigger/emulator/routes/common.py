"""Helpers shared by the route modules: body parsing, size limits, lookups."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from ..actions import settle
from ..errors import ApiError, issues
from ..lifecycle import CURRENT_API_VERSION
from ..models import Environment, Run
from ..state import EmulatorState

MB = 1024 * 1024
TASK_PAYLOAD_MAXIMUM_SIZE = 3 * MB
BATCH_TASK_PAYLOAD_MAXIMUM_SIZE = 1_000_000


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def api_version(request: Request) -> str | None:
    version = request.headers.get("x-trigger-api-version")
    return version if version == CURRENT_API_VERSION else None


def check_size(request: Request, limit: int) -> None:
    """``maxContentLength``: a missing or too large ``content-length`` is a 413."""
    length = request.headers.get("content-length")
    if not length or not length.isdigit() or int(length) > limit:
        raise ApiError(413, "Request body too large")


async def read_json(request: Request, *, legacy: bool = False, required: bool = True) -> Any:
    """The JSON body with the server's errors (apiBuilder style, or the legacy routes' style)."""
    raw = await request.body()
    if not raw.strip():
        if not required:
            return {}
        raise ApiError(400, "Invalid request body" if legacy else "Request body is empty")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Invalid request body" if legacy else "Invalid JSON") from None


def legacy_validate(model: Any, raw: Any) -> Any:
    """Validation for legacy routes: ``400 {error: "Invalid request body", issues}``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "Invalid request body", issues=issues(exc)) from None


def find_run(state: EmulatorState, env: Environment, run_id: str) -> Run | None:
    settle(state)
    run = state.stores.runs.get(run_id)
    return run if run is not None and run.env.id == env.id else None


def runs_of(state: EmulatorState, env: Environment) -> list[Run]:
    """The env's runs, newest first."""
    settle(state)
    return [r for r in reversed(state.stores.runs.values()) if r.env.id == env.id]


def header_dict(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}
