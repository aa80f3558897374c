"""``options.debounce``: validation and the push-back of a DELAYED run with the same key.

Upstream: ``apps/webapp/app/runEngine/services/triggerTask.server.ts`` (validation, 422s) and
``internal-packages/run-engine/src/engine/systems/debounceSystem.ts`` (a run still DELAYED or
PENDING_VERSION with the same env + task + key is pushed back and returned, ``isCached: false``; past
``maxDelay`` from its creation a new run is made instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .parsing import delay_until, duration_seconds

if TYPE_CHECKING:
    from .models import Environment, Run
    from .state import EmulatorState

_FORMATS = (
    "Supported formats: {number}s, {number}m, {number}h or {number}hr, {number}d, {number}w, "
    'optionally combined (for example "2h30m").'
)
DEBOUNCEABLE = frozenset({"DELAYED", "PENDING_VERSION"})


def validate(debounce: Any, now: float) -> tuple[str, float, float | None]:
    """``(key, delay seconds, maxDelay seconds)``; a 422 naming the bad value otherwise."""
    if not isinstance(debounce, dict) or not isinstance(debounce.get("key"), str) or not debounce["key"]:
        raise ApiError(400, "Invalid request body: options.debounce needs a key and a delay")
    delay = debounce.get("delay")
    if not isinstance(delay, str) or delay_until(delay, now) is None:
        raise ApiError(422, f"Debounce requires a valid delay duration. Provided: {delay}")
    seconds = duration_seconds(delay)
    if seconds is None:
        raise ApiError(
            422,
            f"Invalid debounce delay: {delay}. debounce.delay must be a duration, not a date, because it "
            f"is re-applied every time the run is pushed back. {_FORMATS}",
        )
    max_delay = debounce.get("maxDelay")
    if max_delay is None:
        return debounce["key"], seconds, None
    max_seconds = duration_seconds(max_delay) if isinstance(max_delay, str) else None
    if max_seconds is None:
        raise ApiError(422, f"Invalid debounce maxDelay: {max_delay}. {_FORMATS}")
    if max_seconds <= seconds:
        raise ApiError(
            422,
            f"debounce.maxDelay ({max_delay}) must be longer than debounce.delay ({delay}). A debounced "
            "run is only pushed back while it stays inside maxDelay, so with these values every trigger "
            "would create its own run.",
        )
    return debounce["key"], seconds, max_seconds


def push_back(
    state: EmulatorState,
    env: Environment,
    task: str,
    debounce: tuple[str, float, float | None],
    payload: tuple[str | None, str] | None,
    now: float,
) -> Run | None:
    """The existing run for the key, pushed back to ``now + delay``; ``None`` when a new run is due."""
    key, seconds, max_seconds = debounce
    run_id = state.stores.debounce.get((env.id, task, key))
    run = state.stores.runs.get(run_id) if run_id else None
    if run is None or state.view(run, now).status not in DEBOUNCEABLE:
        return None
    new_until = now + seconds
    if max_seconds is not None and new_until > run.created_at + max_seconds:
        return None
    run.delay_until, run.touched_at = new_until, now
    if payload is not None:  # mode "trailing": the latest trigger's payload wins
        run.payload, run.payload_type = payload
    return run
