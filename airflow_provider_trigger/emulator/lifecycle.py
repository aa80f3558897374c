"""Run status derived lazily from timestamps, and the run's JSON shapes (list item, retrieve).

No background thread moves runs along: a run's status at time ``now`` follows from when it was
created, delayed, queued, started and how long its task behaviour takes. Manual actions (cancel,
reschedule, tags, metadata) are stored on the run and folded in here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .models import Run, iso

CURRENT_API_VERSION = "2025-07-16"

_V2_STATUS = {
    "DELAYED": "DELAYED",
    "PENDING_VERSION": "PENDING_VERSION",
    "WAITING_FOR_DEPLOY": "PENDING_VERSION",
    "PENDING": "QUEUED",
    "PAUSED": "WAITING",
    "WAITING_TO_RESUME": "WAITING",
    "DEQUEUED": "DEQUEUED",
    "RETRYING_AFTER_FAILURE": "EXECUTING",
    "EXECUTING": "EXECUTING",
    "CANCELED": "CANCELED",
    "COMPLETED_SUCCESSFULLY": "COMPLETED",
    "SYSTEM_FAILURE": "SYSTEM_FAILURE",
    "CRASHED": "CRASHED",
    "INTERRUPTED": "FAILED",
    "COMPLETED_WITH_ERRORS": "FAILED",
    "EXPIRED": "EXPIRED",
    "TIMED_OUT": "TIMED_OUT",
}
_V1_STATUS = {
    **_V2_STATUS,
    "WAITING_FOR_DEPLOY": "WAITING_FOR_DEPLOY",
    "PAUSED": "FROZEN",
    "WAITING_TO_RESUME": "FROZEN",
    "RETRYING_AFTER_FAILURE": "REATTEMPTING",
    "DEQUEUED": "EXECUTING",
    "INTERRUPTED": "INTERRUPTED",
}
#: Public status name (either vocabulary) → internal statuses, for ``filter[status]``.
FILTER_STATUSES: dict[str, set[str]] = {
    "PENDING_VERSION": {"PENDING_VERSION", "WAITING_FOR_DEPLOY"},
    "WAITING_FOR_DEPLOY": {"WAITING_FOR_DEPLOY"},
    "DELAYED": {"DELAYED"},
    "QUEUED": {"PENDING"},
    "DEQUEUED": {"DEQUEUED"},
    "EXECUTING": {"EXECUTING", "DEQUEUED"},
    "REATTEMPTING": {"RETRYING_AFTER_FAILURE"},
    "FROZEN": {"PAUSED", "WAITING_TO_RESUME"},
    "WAITING": {"WAITING_TO_RESUME"},
    "COMPLETED": {"COMPLETED_SUCCESSFULLY"},
    "CANCELED": {"CANCELED"},
    "FAILED": {"COMPLETED_WITH_ERRORS"},
    "INTERRUPTED": {"INTERRUPTED"},
    "CRASHED": {"CRASHED"},
    "SYSTEM_FAILURE": {"SYSTEM_FAILURE"},
    "EXPIRED": {"EXPIRED"},
    "TIMED_OUT": {"TIMED_OUT"},
}
#: Internal statuses after which the idempotency key no longer holds.
KEY_CLEARING = frozenset({"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT", "EXPIRED"})
INF = float("inf")


@dataclass(frozen=True)
class RunView:
    """A run's state at one instant (internal status names)."""

    status: str
    started_at: float | None
    completed_at: float | None
    expired_at: float | None
    updated_at: float
    error: dict[str, Any] | None = field(default=None, compare=False)
    """The error a token wait ended the run with (overrides the behaviour's)."""

    @property
    def finished(self) -> bool:
        return self.completed_at is not None or self.expired_at is not None


@dataclass(frozen=True)
class TokenWait:
    """A run's wait on a waitpoint token: when it resumes (``INF`` while the token waits), and whether
    the token timed out (the run then fails with ``error``)."""

    resume_at: float
    timed_out: bool
    error: dict[str, Any] | None = None


def api_status(internal: str, api_version: str | None) -> str:
    table = _V2_STATUS if api_version == CURRENT_API_VERSION else _V1_STATUS
    return table.get(internal, "QUEUED")


def start_time(ready_at: float, queue_time: float, pauses: list[tuple[float, float | None]]) -> float:
    """When a run ready at ``ready_at`` starts, given its queue's pause intervals."""
    start = ready_at + queue_time
    for paused_at, resumed_at in pauses:
        end = INF if resumed_at is None else resumed_at
        if paused_at <= start < end:
            start = end + queue_time if end != INF else INF
    return start


def _start(run: Run, ready_at: float, pauses: list[tuple[float, float | None]]) -> float:
    """When the run starts executing; never while no deployed version runs it."""
    if run.deployed_at is None:
        return INF
    return start_time(max(ready_at, run.deployed_at), run.queue_time, pauses)


def _resume(start: float, token: TokenWait | None) -> float:
    """When the run's compute starts: at its start, or when the token it waits on is resolved."""
    return start if token is None else max(start, token.resume_at)


def view(
    run: Run,
    now: float,
    pauses: list[tuple[float, float | None]] | None = None,
    token: TokenWait | None = None,
) -> RunView:
    """Derive the state of ``run`` at ``now`` (``token``: the token it waits on as it starts)."""
    touched = max(run.created_at, run.touched_at)
    ready_at = run.delay_until if run.delay_until is not None else run.created_at
    start = _start(run, ready_at, pauses or [])
    expire = ready_at + run.ttl if run.ttl else INF
    resume = _resume(start, token)
    final, end = run.final_status, resume + run.duration
    error = None
    if token is not None and token.timed_out and final == "COMPLETED_SUCCESSFULLY":
        final, end, error = "COMPLETED_WITH_ERRORS", resume, token.error
    elif run.max_duration is not None and run.duration > run.max_duration:
        final, end = "TIMED_OUT", resume + run.max_duration
    # Events in time order; a cancel pre-empts whatever comes after it.
    cancel = run.canceled_at if run.canceled_at is not None else INF
    if expire <= start and expire <= cancel:
        if now >= expire:
            return RunView("EXPIRED", None, None, expire, max(touched, expire))
        return _waiting(run, now, ready_at, touched)
    if cancel < end and now >= cancel:
        started = start if start <= cancel else None
        return RunView("CANCELED", started, cancel, None, max(touched, cancel))
    if now < start:
        return _waiting(run, now, ready_at, touched)
    if now < end:
        return RunView("EXECUTING", start, None, None, max(touched, start))
    return RunView(final, start, end, None, max(touched, end), error)


def next_change(
    run: Run,
    now: float,
    pauses: list[tuple[float, float | None]] | None = None,
    token: TokenWait | None = None,
) -> float:
    """The earliest time after ``now`` when the run's derived state may change (``INF`` if never)."""
    ready_at = run.delay_until if run.delay_until is not None else run.created_at
    start = _start(run, ready_at, pauses or [])
    resume = _resume(start, token)
    end = resume + min(run.duration, run.max_duration if run.max_duration is not None else INF)
    if token is not None and token.timed_out:
        end = resume
    expire = ready_at + run.ttl if run.ttl else INF
    return min((t for t in (ready_at, start, resume, end, expire) if t > now), default=INF)


def _waiting(run: Run, now: float, ready_at: float, touched: float) -> RunView:
    if run.delay_until is not None and now < run.delay_until:
        return RunView("DELAYED", None, None, None, touched)
    status = "PENDING_VERSION" if run.deployed_at is None else "PENDING"
    return RunView(status, None, None, None, max(touched, min(ready_at, now)))


def parse_packet(data: str | None, data_type: str) -> Any:
    """The server's ``parsePacketAsJson``: JSON types parse, text stays text."""
    if data is None:
        return None
    if data_type == "application/json":
        try:
            return json.loads(data)
        except ValueError:
            return data
    if data_type == "application/super+json":
        try:
            return json.loads(data).get("json")
        except (ValueError, AttributeError):
            return data
    return data


def _helpers(status: str) -> dict[str, bool]:
    completed = status in {"COMPLETED", "CANCELED", "FAILED", "CRASHED", "INTERRUPTED", "SYSTEM_FAILURE"}
    return {
        "isQueued": status in {"QUEUED", "WAITING_FOR_DEPLOY", "DELAYED", "PENDING_VERSION"},
        "isExecuting": status in {"EXECUTING", "REATTEMPTING", "FROZEN", "DEQUEUED"},
        "isWaiting": status == "WAITING",
        "isCompleted": completed,
        "isSuccess": completed and status == "COMPLETED",
        "isFailed": completed and status != "COMPLETED",
        "isCancelled": status == "CANCELED",
    }


def _duration_ms(v: RunView, now: float) -> int:
    if v.started_at is None:
        return 0
    return int(((v.completed_at or now) - v.started_at) * 1000)


def _cost(v: RunView, now: float) -> float:
    return round(_duration_ms(v, now) * 0.0000169 * 100, 6) / 100


def compact(d: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values, as ``JSON.stringify`` drops ``undefined``."""
    return {k: v for k, v in d.items() if v is not None}


def _metadata(run: Run) -> Any:
    return parse_packet(run.metadata, run.metadata_type) if run.metadata is not None else None


def common(run: Run, v: RunView, now: float, api_version: str | None) -> dict[str, Any]:
    """Fields shared by the retrieve object and related runs (``createCommonRunStructure``)."""
    status = api_status(v.status, api_version)
    return compact(
        {
            "id": run.id,
            "taskIdentifier": run.task,
            "idempotencyKey": run.idempotency_key_user,
            "version": run.version,
            "status": status,
            "createdAt": iso(run.created_at),
            "startedAt": iso(v.started_at),
            "updatedAt": iso(v.updated_at),
            "finishedAt": iso(v.completed_at),
            "expiredAt": iso(v.expired_at),
            "delayedUntil": iso(run.delay_until),
            "ttl": run.ttl_text if run.ttl else None,
            "costInCents": _cost(v, now),
            "baseCostInCents": 0,
            "durationMs": _duration_ms(v, now),
            "isTest": run.is_test,
            "depth": 0 if run.parent_id is None else 1,
            "tags": sorted(run.tags),
            **_helpers(status),
            "triggerFunction": run.trigger_function,
            "batchId": run.batch_id,
            "metadata": _metadata(run),
            "region": run.region,
        }
    )


def list_item(run: Run, v: RunView, now: float, api_version: str | None) -> dict[str, Any]:
    """A ``runs.list`` row."""
    status = api_status(v.status, api_version)
    return compact(
        {
            "id": run.id,
            "status": status,
            "taskIdentifier": run.task,
            "idempotencyKey": run.idempotency_key,
            "version": run.version,
            "createdAt": iso(run.created_at),
            "updatedAt": iso(v.updated_at),
            "startedAt": iso(v.started_at),
            "finishedAt": iso(v.completed_at),
            "delayedUntil": iso(run.delay_until),
            "isTest": run.is_test,
            "ttl": run.ttl_text if run.ttl else None,
            "expiredAt": iso(v.expired_at),
            "env": compact(
                {
                    "id": run.env.id,
                    "name": run.env.slug,
                    "user": "emulator" if run.env.slug == "dev" else None,
                }
            ),
            "tags": list(run.tags),
            "costInCents": _cost(v, now),
            "baseCostInCents": 0,
            "durationMs": _duration_ms(v, now),
            "depth": 0 if run.parent_id is None else 1,
            "metadata": _metadata(run),
            "taskKind": "STANDARD",
            "region": run.region,
            **_helpers(status),
        }
    )


def internal_error(code: str) -> dict[str, Any]:
    """How the API shows an ``INTERNAL_ERROR`` (``createJsonErrorObject`` in core/v3/errors.ts)."""
    return {"message": f"trigger.dev internal error ({code})"}


def error_object(run: Run, v: RunView) -> dict[str, Any] | None:
    """The run's ``error`` whenever one is set (ApiRetrieveRunPresenter ``apiErrorFromError``)."""
    if v.status == "CANCELED":
        return {"message": "Canceled by user"}  # runAttemptSystem.cancelRun's default reason
    if v.status == "EXPIRED":
        return {"message": f"Run expired because the TTL ({run.ttl_text}) was reached"}  # ttlSystem.ts
    if v.status == "TIMED_OUT" and (run.error is None or run.final_status != "TIMED_OUT"):
        return internal_error("MAX_DURATION_EXCEEDED")
    if v.status == "COMPLETED_WITH_ERRORS" and v.error is not None:
        return v.error
    if v.status in {"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"} and run.error:
        return run.error
    return None
