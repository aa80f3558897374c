"""A run's events as ``GET /api/v1/runs/{id}/events`` returns them (the ClickHouse event store).

Upstream (``apps/webapp/app/routes/api.v1.runs.$runId.events.ts``,
``v3/eventRepository/clickhouseEventRepository.server.ts`` ``getRunEvents``): one row per span or log
line, oldest first, every row ``{spanId, parentId, runId, message, style, events, startTime,
duration, isError, isPartial, isCancelled, kind: "UNSPECIFIED", attemptNumber, level}``; ``startTime``
is epoch nanoseconds as a string, ``duration`` nanoseconds; log lines have level DEBUG/LOG/INFO/WARN/
ERROR, spans TRACE. A failure puts an ``exception`` span event (``{type, message, stacktrace}``) on the
attempt span (recorded by the SDK) and on the run's span (``completeFailedRunEvent``). No pagination,
no cursor: every call returns every row so far.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .models import iso

if TYPE_CHECKING:
    from .lifecycle import RunView
    from .models import Run

FAILED = frozenset({"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"})


def span_id(run: Run, name: str) -> str:
    """A stable 16-hex-digit span id (OpenTelemetry's size) for one of the run's spans or lines."""
    return hashlib.sha256(f"{run.internal_id}/{name}".encode()).hexdigest()[:16]


def _ns(ts: float) -> str:
    return str(round(ts * 1e9))


def _row(
    run: Run, span: str, parent: str | None, message: str, start: float, **fields: Any
) -> dict[str, Any]:
    return {
        "spanId": span,
        "parentId": parent,
        "runId": run.id,
        "message": message,
        "style": fields.pop("style", {}),
        "events": fields.pop("events", []),
        "startTime": _ns(start),
        "duration": fields.pop("duration", 0),
        "isError": fields.pop("isError", False),
        "isPartial": fields.pop("isPartial", False),
        "isCancelled": fields.pop("isCancelled", False),
        "kind": "UNSPECIFIED",
        "attemptNumber": fields.pop("attemptNumber", None),
        "level": fields.pop("level", "TRACE"),
    }


def _exception(run: Run, at: float) -> list[dict[str, Any]]:
    error = run.error or {}
    exception = {"type": error.get("name") or "Error", "message": error.get("message") or ""}
    if error.get("stackTrace"):
        exception["stacktrace"] = error["stackTrace"]
    return [{"name": "exception", "time": iso(at), "properties": {"exception": exception}}]


def line_times(run: Run, started_at: float) -> list[float]:
    """When each of the task's log lines is written: spread evenly over its execution."""
    count = len(run.logs)
    return [started_at + run.duration * (i + 1) / (count + 1) for i in range(count)]


def run_events(run: Run, view: RunView, now: float) -> list[dict[str, Any]]:
    """The rows visible at ``now``: the run's span, its attempt, and the lines written so far."""
    root = span_id(run, "run")
    end = view.completed_at if view.completed_at is not None else view.expired_at
    failed = view.status in FAILED
    canceled = view.status == "CANCELED"
    rows = [
        _row(
            run,
            root,
            None,
            run.task,
            run.created_at,
            style={"icon": "task", "variant": "primary"},
            duration=round(((end if end is not None else now) - run.created_at) * 1e9),
            isError=failed,
            isPartial=end is None,
            isCancelled=canceled,
            events=_exception(run, end) if failed and end is not None else [],
        )
    ]
    if view.started_at is None:
        return rows
    attempt = span_id(run, "attempt/1")
    attempt_end = view.completed_at
    rows.append(
        _row(
            run,
            attempt,
            root,
            "Attempt 1",
            view.started_at,
            style={"icon": "attempt", "variant": "cold"},
            duration=round(((attempt_end if attempt_end is not None else now) - view.started_at) * 1e9),
            isError=failed,
            isPartial=attempt_end is None,
            isCancelled=canceled,
            attemptNumber=1,
            events=_exception(run, attempt_end) if failed and attempt_end is not None else [],
        )
    )
    last = min(now, attempt_end) if attempt_end is not None else now
    for index, ((level, message), at) in enumerate(
        zip(run.logs, line_times(run, view.started_at), strict=True)
    ):
        if at > last:
            break
        level = level.upper()
        rows.append(
            _row(
                run,
                span_id(run, f"log/{index}"),
                attempt,
                message[:4096],
                at,
                level=level,
                isError=level == "ERROR",
                attemptNumber=1,
            )
        )
    rows.sort(key=lambda row: int(row["startTime"]))
    return rows
