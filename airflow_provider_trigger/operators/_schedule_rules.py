"""Trigger.dev's schedule rules, checked locally before any write: cron, window, timezone, and the
declared-schedule spec that the schedule operators compare with what the server holds."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from croniter import croniter

from airflow_provider_trigger.client import Schedule

#: cron-parser aliases, expanded locally so the server always receives five fields.
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_WINDOW_DURATION = re.compile(r"^(0|[1-9]\d*)([mh])$")
_WINDOW_PERCENT = re.compile(r"^(0|[1-9]\d*)%$")
_SPEC_FIELDS = ("task", "cron", "deduplication_key", "timezone", "external_id", "window", "active")


def validate_cron(expression: str) -> str:
    """Return the expression with single spaces, or raise ``ValueError`` saying what is wrong.

    The server takes five fields (no seconds) parsed by cron-parser; it splits on single spaces, so
    extra whitespace is normalised here rather than rejected there.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("Invalid cron expression: it is empty.")
    normalized = CRON_ALIASES.get(expression.strip().lower(), " ".join(expression.split()))
    fields = normalized.split(" ")
    if len(fields) != 5:
        hint = " (seconds are not allowed)" if len(fields) > 5 else ""
        raise ValueError(
            f"Invalid cron expression {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}{hint}."
        )
    if not croniter.is_valid(normalized):
        raise ValueError(f"Invalid cron expression {expression!r}: a field is out of range or malformed.")
    return normalized


def window_key(window: str | None) -> tuple[str, int] | None:
    """Check a schedule window and return a comparable form (the server echoes ``"60m"`` as ``"1h"``).

    Whole durations up to 24 hours (``"30m"``, ``"2h"``) or a percentage (``"0%"`` to ``"100%"``).
    """
    if window is None:
        return None
    if match := _WINDOW_DURATION.match(window):
        seconds = int(match[1]) * (3600 if match[2] == "h" else 60)
        if seconds > 24 * 3600:
            raise ValueError(f"Invalid schedule window {window!r}: it cannot exceed 24 hours.")
        return ("seconds", seconds)
    if match := _WINDOW_PERCENT.match(window):
        if int(match[1]) > 100:
            raise ValueError(f"Invalid schedule window {window!r}: a percentage cannot exceed 100%.")
        return ("percent", int(match[1]))
    raise ValueError(f'Invalid schedule window {window!r}: use a whole duration ("30m", "2h") or "30%".')


def validate_window(window: str | None) -> str | None:
    window_key(window)
    return window


def local_timezones() -> frozenset[str]:
    """The IANA names this machine knows (a fallback when the timezones endpoint can't be reached)."""
    return frozenset(zoneinfo.available_timezones() | {"UTC"})


def validate_timezone(timezone: str | None, known: Collection[str]) -> str | None:
    if timezone is not None and timezone not in known:
        raise ValueError(
            f"Unknown timezone {timezone!r}: use an IANA name such as 'Europe/London' "
            "(see GET /api/v1/timezones for the list Trigger.dev accepts)."
        )
    return timezone


@dataclass(frozen=True)
class ScheduleSpec:
    """One declared schedule, checked locally (everything except whether the task exists)."""

    task: str
    cron: str
    deduplication_key: str
    timezone: str | None = None
    external_id: str | None = None
    window: str | None = None
    active: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ScheduleSpec:
        """Build from a mapping (e.g. one item of a templated list); unknown keys are errors."""
        label = raw.get("deduplication_key") or raw.get("task") or "?"
        unknown = sorted(set(raw) - set(_SPEC_FIELDS))
        if unknown:
            raise ValueError(
                f"Schedule {label!r}: unknown field(s) {unknown}; allowed: {list(_SPEC_FIELDS)}."
            )
        for required in ("task", "cron", "deduplication_key"):
            if not isinstance(raw.get(required), str) or not raw[required].strip():
                raise ValueError(f"Schedule {label!r}: {required} is required (a non-empty string).")
        try:
            return cls(
                task=raw["task"],
                cron=validate_cron(raw["cron"]),
                deduplication_key=raw["deduplication_key"],
                timezone=raw.get("timezone"),
                external_id=raw.get("external_id"),
                window=validate_window(raw.get("window")),
                active=bool(raw.get("active", True)),
            )
        except ValueError as err:
            raise ValueError(f"Schedule {label!r}: {err}") from None

    def matches(self, schedule: Mapping[str, Any]) -> bool:
        """Whether a server schedule (as :func:`schedule_view` shows it) already is this declaration."""
        return (
            schedule.get("task") == self.task
            and schedule.get("cron") == self.cron
            and (schedule.get("timezone") or "UTC") == (self.timezone or "UTC")
            and (schedule.get("external_id") or None) == (self.external_id or None)
            and window_key(schedule.get("window")) == window_key(self.window)
            and bool(schedule.get("active", True)) == self.active
        )


def schedule_view(schedule: Schedule) -> dict[str, Any]:
    """A client ``Schedule`` as a small JSON-safe dict (what the operators return as XCom)."""
    return {
        "id": schedule.id,
        "type": schedule.type,
        "task": schedule.task,
        "cron": schedule.generator.expression if schedule.generator else None,
        "timezone": schedule.timezone,
        "active": schedule.active,
        "deduplication_key": schedule.deduplication_key,
        "external_id": schedule.external_id,
        "window": schedule.window,
        "next_run": schedule.next_run.isoformat() if schedule.next_run else None,
    }
