"""A run's events (``GET /api/v1/runs/{id}/events``) and the log lines read from them.

The server returns one row per span or log line (``spanId``, ``parentId``, ``message``, ``level``,
``startTime`` in epoch nanoseconds as a string, ``attemptNumber``, ``events`` …), every row on every
call: the route has no cursor or pagination (upstream ``api.v1.runs.$runId.events.ts``). Log lines
are the rows whose level is not ``TRACE``; a failure is an ``exception`` (or ``attempt_failed``) span
event carrying ``{type, message, stacktrace}``. Every :class:`RunLogLine` has a stable ``key``, so a
reader polling the route can print each line once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from airflow_provider_trigger.client.models._base import TriggerModel

LOG_LEVELS = ("DEBUG", "LOG", "INFO", "WARN", "ERROR")
"""Levels of the lines a task writes with ``logger.debug/log/info/warn/error``; spans are ``TRACE``."""


class RunEvent(TriggerModel):
    """One row of the run events route: a span (level ``TRACE``) or a log line."""

    span_id: str
    parent_id: str | None = None
    run_id: str | None = None
    message: str = ""
    level: str = "TRACE"
    start_time: int = 0
    """Epoch nanoseconds (the server sends a string)."""
    duration: int = 0
    is_error: bool = False
    is_partial: bool = False
    is_cancelled: bool = False
    kind: str | None = None
    attempt_number: int | None = None
    style: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("start_time", "duration", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> int:
        return int(value) if value not in (None, "") else 0

    @field_validator("style", mode="before")
    @classmethod
    def _style(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.start_time / 1e9, UTC)


class RunEvents(TriggerModel):
    events: list[RunEvent] = Field(default_factory=list)


@dataclass(frozen=True)
class RunLogLine:
    """A line of a run's log: what the task wrote, or its error with the stack trace."""

    key: str
    """Stable across reads and processes: the line's span id; an error's: ``error/`` + a digest of it."""
    run_id: str
    time: datetime
    level: str
    message: str
    attempt: int | None = None
    stack_trace: str | None = None
    """For an error: the stack trace as the task reported it (first line included)."""

    @property
    def is_error(self) -> bool:
        return self.stack_trace is not None or self.level == "ERROR"

    def format(self) -> str:
        """``2026-01-01T00:00:00.123Z INFO [attempt 1] message`` and, for an error, its stack below."""
        when = self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        attempt = f" [attempt {self.attempt}]" if self.attempt is not None else ""
        text = f"{when} {self.level:<5}{attempt} {self.message}"
        if self.stack_trace:
            stack = self.stack_trace
            first, _, rest = stack.partition("\n")
            if first.strip() and first.strip() in self.message:  # "Error: boom" repeats the message
                stack = rest
            if stack.strip():
                text += "\n" + "\n".join(f"    {line.strip()}" for line in stack.splitlines() if line.strip())
        return text


def _event_time(event: dict[str, Any], fallback: datetime) -> datetime:
    value = event.get("time")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
    return fallback


def _error_line(row: RunEvent, event: dict[str, Any], run_id: str) -> RunLogLine | None:
    if event.get("name") not in ("exception", "attempt_failed"):
        return None
    properties = event.get("properties") or {}
    exception = properties.get("exception") if isinstance(properties, dict) else None
    if not isinstance(exception, dict):
        return None
    kind = str(exception.get("type") or "Error")
    message = str(exception.get("message") or "")
    stack = str(exception.get("stacktrace") or exception.get("stackTrace") or "")
    attempt = properties.get("attemptNumber", row.attempt_number)
    attempt = attempt if isinstance(attempt, int) else None
    digest = hashlib.sha256(f"{kind}\0{message}\0{stack}\0{attempt}".encode()).hexdigest()[:16]
    return RunLogLine(
        key=f"error/{digest}",
        run_id=row.run_id or run_id,
        time=_event_time(event, row.time),
        level="ERROR",
        message=f"{kind}: {message}" if message else kind,
        attempt=attempt,
        stack_trace=stack or None,
    )


def log_lines(run_id: str, events: list[RunEvent]) -> list[RunLogLine]:
    """The run's log lines, oldest first: written lines, then each distinct error once.

    The same exception is recorded on the attempt's span and on the run's span (upstream
    ``completeFailedRunEvent``): it is listed once, under the attempt that raised it.
    """
    lines: list[RunLogLine] = []
    errors: dict[tuple[Any, ...], RunLogLine] = {}
    for row in events:
        level = row.level.upper()
        if level != "TRACE":
            lines.append(
                RunLogLine(
                    key=row.span_id,
                    run_id=row.run_id or run_id,
                    time=row.time,
                    level=level,
                    message=row.message,
                    attempt=row.attempt_number,
                )
            )
        for event in row.events:
            if line := _error_line(row, event, run_id):
                errors.setdefault((line.message, line.stack_trace, line.attempt), line)
    attempted = {(message, stack) for message, stack, attempt in errors if attempt is not None}
    for message, stack, attempt in list(errors):
        if attempt is None and (message, stack) in attempted:  # the run span's copy of an attempt's error
            del errors[(message, stack, attempt)]
    lines.extend(errors.values())
    lines.sort(key=lambda line: line.time)
    return lines


__all__ = ["LOG_LEVELS", "RunEvent", "RunEvents", "RunLogLine", "log_lines"]
