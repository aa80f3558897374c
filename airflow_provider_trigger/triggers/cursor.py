"""The run watcher's cursor: which ended runs it has announced (kept in the asset's state store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_trigger.client import Run

CURSOR_VERSION = 1
MAX_SEEN_RUN_IDS = 500
"""Run ids kept in the cursor; with ~60 bytes each this stays far under ``max_value_storage_bytes``."""


def finished_time(run: Run) -> datetime | None:
    """When a terminal run ended: ``finishedAt``, else ``expiredAt`` (EXPIRED runs), else ``updatedAt``."""
    when = run.finished_at or run.expired_at or run.updated_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


@dataclass
class RunCursor:
    """Where the watcher is: runs that ended at or before ``after`` are old, and so are ``seen`` ones.

    ``seen`` maps run id → finished time (ISO) of the runs already announced (or already ended when
    the watcher first started) that ended after ``after``. ``after`` trails the newest of them by the
    watcher's ``settle_time``, so a run that is listed late, but within that window, still fires once.
    """

    after: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)

    def is_new(self, run_id: str, finished: datetime) -> bool:
        return run_id not in self.seen and (self.after is None or finished > self.after)

    def add(self, run_id: str, finished: datetime, settle_time: float) -> None:
        """Mark a run as announced; move ``after`` up and forget ids that fell below it."""
        ended = {run: datetime.fromisoformat(when) for run, when in self.seen.items()}
        ended[run_id] = finished
        floor = max(ended.values()) - timedelta(seconds=settle_time)
        if self.after is None or floor > self.after:
            self.after = floor
        newest_first = sorted(((when, run) for run, when in ended.items() if when > floor), reverse=True)
        if len(newest_first) > MAX_SEEN_RUN_IDS:  # forget the oldest ids: runs that old count as seen
            self.after = max(self.after, newest_first[MAX_SEEN_RUN_IDS][0])
            newest_first = newest_first[:MAX_SEEN_RUN_IDS]
        self.seen = {run: when.isoformat() for when, run in newest_first}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CURSOR_VERSION,
            "after": None if self.after is None else self.after.isoformat(),
            "seen": dict(self.seen),
        }

    @classmethod
    def from_json(cls, value: Any) -> RunCursor:
        """Parse a stored cursor; raises ``ValueError`` when it has another shape."""
        if not isinstance(value, dict) or value.get("version") != CURSOR_VERSION:
            raise ValueError(f"not a version-{CURSOR_VERSION} cursor: {value!r}")
        after, seen = value.get("after"), value.get("seen")
        if not (after is None or isinstance(after, str)) or not isinstance(seen, dict):
            raise ValueError(f"malformed cursor: {value!r}")
        parsed = {str(run): datetime.fromisoformat(str(when)) for run, when in seen.items()}
        return cls(
            None if after is None else datetime.fromisoformat(after),
            {run: when.isoformat() for run, when in parsed.items()},
        )
