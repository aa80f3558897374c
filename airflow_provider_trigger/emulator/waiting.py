"""Runs that wait on a waitpoint token (``wait.forToken(id).unwrap()`` in task code).

Upstream (RE/engine/systems/waitpointSystem.ts): ``blockRunWithWaitpoint`` keeps the run's status
(EXECUTING: only its execution snapshot changes), ``completeWaitpoint`` continues it with the token's
output, and a token's timeout completes it with ``timeoutError`` (``TRIGGER_WAITPOINT_TIMEOUT``), which
``unwrap()`` throws as ``WaitpointTimeoutError``. Here the wait is derived lazily like the rest of a
run: :func:`token_wait` gives the time the run resumes, :func:`on_completed` hands the data over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .lifecycle import TokenWait, parse_packet
from .models import Run, TaskBehaviour, Waitpoint, iso
from .packets import run_packets

if TYPE_CHECKING:
    from .state import EmulatorState

TIMEOUT_CODE = "TRIGGER_WAITPOINT_TIMEOUT"


def timeout_error(token: Waitpoint) -> dict[str, str]:
    """The output a timed-out token holds (core/v3/schemas/api.ts ``timeoutError``)."""
    return {"code": TIMEOUT_CODE, "message": f"Waitpoint timed out at {iso(token.timeout_at)}"}


def token_id_for(behaviour: TaskBehaviour, payload: Any) -> str | None:
    """The token a run of ``behaviour`` waits on, read from its payload; ``None`` if it waits on none."""
    source = behaviour.wait_for_token
    if source is None:
        return None
    if callable(source):
        return str(source(payload))
    value = payload.get(source) if isinstance(payload, dict) else None
    return None if value is None else str(value)


def attach(state: EmulatorState, run: Run, behaviour: TaskBehaviour, payload: Any) -> None:
    """Make ``run`` wait on the token its payload names (called under the state's lock).

    A missing token id or an unknown token fails the run as the SDK's ``wait.forToken`` would throw.
    """
    if behaviour.wait_for_token is None or run.final_status != "COMPLETED_SUCCESSFULLY":
        return
    token_id = token_id_for(behaviour, payload)
    token = state.stores.waitpoints.get(token_id or "")
    if token is None or token.env.id != run.env.id:
        run.final_status, run.output = "COMPLETED_WITH_ERRORS", None
        what = f"Waitpoint {token_id} not found" if token_id else "No waitpoint token id in the payload"
        run.error = {"name": "Error", "message": what, "stackTrace": f"Error: {what}"}
        return
    run.waits_for = token.id
    run.output_from_token = behaviour.echoes
    if run.output_from_token:
        run.output = None
    if token.completed_at is not None:
        on_completed(state, token)


def token_wait(state: EmulatorState, run: Run) -> TokenWait | None:
    """When the run's token wait ends, and whether it timed out (``None``: the run waits on none)."""
    if run.waits_for is None:
        return None
    token = state.stores.waitpoints[run.waits_for]
    completed = token.completed_at
    timeout = token.timeout_at
    if timeout is not None and (completed is None or timeout < completed):
        return TokenWait(timeout, timed_out=True, error=_timeout_failure(token))
    return TokenWait(completed if completed is not None else float("inf"), timed_out=False)


def _timeout_failure(token: Waitpoint) -> dict[str, Any]:
    message = timeout_error(token)["message"]
    return {
        "name": "WaitpointTimeoutError",
        "message": message,
        "stackTrace": f"WaitpointTimeoutError: {message}",
    }


def on_completed(state: EmulatorState, token: Waitpoint) -> None:
    """The token was completed: runs that return its data get it as their output (under the lock)."""
    data = parse_packet(token.output, token.output_type) if token.output is not None else None
    for run in state.stores.runs.values():
        if run.waits_for == token.id and run.output_from_token:
            _, _, run.output, run.output_type = run_packets(
                state, run.env, run.id, None, run.payload_type, data
            )
