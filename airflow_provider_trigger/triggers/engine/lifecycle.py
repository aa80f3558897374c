"""Airflow's lifecycle, read right: when a person stopped a task, and which clear a try belongs to.

Airflow calls ``on_kill`` for more than a person's action: a worker's ``on_kill`` also runs on SIGTERM
from a pod eviction, a node drain or a deploy, and a trigger's ``on_kill`` also runs when the triggerer
hands the trigger to another triggerer (HA reassignment after a missed heartbeat). A Trigger.dev run
is cancelled only when the task instance's own state says a person acted on it: marked failed or
success, cleared, skipped or removed. Any doubt (the state cannot be read) leaves the run alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

STILL_RUNNING = frozenset({"running", "deferred", "queued", "scheduled", "up_for_reschedule"})
"""Task states in which nobody stopped the task: Airflow moved it (reassignment, eviction, resume)."""
STATE_LOOKUP_TIMEOUT = 5.0
"""Seconds a worker's ``on_kill`` waits for the task state (Airflow sends SIGKILL 5 s after SIGTERM)."""
UNKNOWN = "unknown"


def clear_generation(context: Any) -> int:
    """The first try number of the current clear of this task instance: 1 until someone clears it.

    Airflow raises ``max_tries`` to ``try_number + retries`` on a clear (the same arithmetic Airflow
    uses for a sensor's first reschedule), so every try after one clear shares its generation and a
    clear starts a new one. Retries re-attach to their run; a clear does the work again.
    """
    ti, task = context.get("ti"), context.get("task")
    try:
        generation = int(ti.max_tries) - int(task.retries) + 1
    except (AttributeError, TypeError, ValueError):
        return 1
    return max(1, generation)


def _query(ti: Any) -> Any:
    from airflow.sdk.execution_time.comms import GetTaskStates

    return GetTaskStates(dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=ti.map_index)


def _state_from(response: Any, ti: Any) -> str | None:
    states = getattr(response, "task_states", None)
    if not isinstance(states, dict):
        return UNKNOWN
    by_task = states.get(ti.run_id) or {}
    key = ti.task_id if (ti.map_index is None or ti.map_index < 0) else f"{ti.task_id}_{ti.map_index}"
    if key not in by_task:
        return None  # the task instance is gone: removed, or the DAG run deleted
    state = by_task[key]
    return None if state is None else str(getattr(state, "value", state))


def person_stopped(state: str | None) -> bool:
    """True when the task's state shows a person acted (marked, cleared) rather than Airflow moving it."""
    return state != UNKNOWN and state not in STILL_RUNNING


async def task_state_async(ti: Any) -> str | None:
    """The task instance's current state, asked from the triggerer (``UNKNOWN`` when it cannot be)."""
    try:
        from airflow.sdk.execution_time import task_runner

        comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
        if comms is None or ti is None:
            return UNKNOWN
        return _state_from(await comms.asend(_query(ti)), ti)
    except Exception:
        return UNKNOWN


def task_state_sync(ti: Any) -> str | None:
    """The task instance's current state, asked from a worker's signal handler, bounded in time.

    The request runs in a thread: the interrupted main thread may hold the supervisor channel's lock,
    in which case the answer is ``UNKNOWN`` after :data:`STATE_LOOKUP_TIMEOUT` instead of a deadlock.
    """
    answer: list[str | None] = [UNKNOWN]

    def ask() -> None:
        try:
            from airflow.sdk.execution_time import task_runner

            comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
            if comms is not None and ti is not None:
                answer[0] = _state_from(comms.send(_query(ti)), ti)
        except Exception:
            answer[0] = UNKNOWN

    thread = threading.Thread(target=ask, name="trigger-dev-task-state", daemon=True)
    thread.start()
    thread.join(STATE_LOOKUP_TIMEOUT)
    return answer[0] if not thread.is_alive() else UNKNOWN


# -- cancelling on a person's action -----------------------------------------------------------------

CANCEL_TIMEOUT = 15.0
"""Seconds a trigger's ``on_kill`` may spend: well under ``[triggerer] on_kill_timeout`` (30 s)."""


def _cancel_request() -> Any:
    from airflow_provider_trigger.client import RequestOptions, RetryOptions

    return RequestOptions(retry=RetryOptions(max_attempts=2, max_timeout=2.0), timeout=10.0)


def _leave(log: Any, run_ids: list[str], state: str | None) -> None:
    why = (
        "its state could not be read"
        if state == UNKNOWN
        else f"it is {state}: Airflow moved it (eviction, triggerer hand-over), nobody stopped it"
    )
    log.info("Not canceling Trigger.dev run(s) %s on kill: %s; a retry re-attaches.", ", ".join(run_ids), why)


def cancel_if_stopped(runs: Any, ti: Any, run_ids: list[str], log: Any) -> bool:
    """Worker side: cancel ``run_ids`` (bounded, errors logged) if a person stopped the task."""
    if not run_ids:
        return False
    state = task_state_sync(ti)
    if not person_stopped(state):
        _leave(log, run_ids, state)
        return False
    for run_id in run_ids:
        try:
            runs.cancel(run_id, request_options=_cancel_request())
            log.info("Canceled Trigger.dev run %s: the task was stopped (%s)", run_id, state or "cleared")
        except Exception as exc:
            log.warning("Could not cancel Trigger.dev run %s: %s", run_id, exc)
    return True


async def acancel_if_stopped(
    get_client: Callable[[], Awaitable[Any]], ti: Any, run_ids: list[str], log: Any
) -> bool:
    """Triggerer side of :func:`cancel_if_stopped`, bounded by :data:`CANCEL_TIMEOUT` in all."""
    if not run_ids:
        return False
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT):
            state = await task_state_async(ti)
            if not person_stopped(state):
                _leave(log, run_ids, state)
                return False
            client = await get_client()
            answers = await asyncio.gather(
                *(client.runs.cancel(r, request_options=_cancel_request()) for r in run_ids),
                return_exceptions=True,
            )
    except TimeoutError:
        log.warning(
            "Canceling Trigger.dev run(s) %s took over %gs; gave up", ", ".join(run_ids), CANCEL_TIMEOUT
        )
        return False
    except Exception as exc:
        log.warning("Could not cancel Trigger.dev run(s) %s: %s", ", ".join(run_ids), exc)
        return False
    for run_id, answer in zip(run_ids, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("Could not cancel Trigger.dev run %s: %s", run_id, answer)
        else:
            log.info("Canceled Trigger.dev run %s: the task was stopped (%s)", run_id, state or "cleared")
    return True
