"""Realtime run feeds (the Electric "shape" long-poll protocol): rows, positions and change detection.

Every response leaves the client at a *position* ``(handle, offset)``; the emulator remembers which
row values each position has seen, so the next request gets exactly the inserts/updates since then
(full rows natively, or only changed columns in Electric mode with partial updates). A position the
emulator does not know is treated as "nothing seen" (native) or answered 409 must-refetch (Electric).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .lifecycle import RunView
from .models import Run

if TYPE_CHECKING:
    from .state import EmulatorState

COLUMNS: list[tuple[str, str, int]] = [
    ("id", "text", 0),
    ("taskIdentifier", "text", 0),
    ("createdAt", "timestamp", 0),
    ("updatedAt", "timestamp", 0),
    ("startedAt", "timestamp", 0),
    ("delayUntil", "timestamp", 0),
    ("queuedAt", "timestamp", 0),
    ("expiredAt", "timestamp", 0),
    ("completedAt", "timestamp", 0),
    ("friendlyId", "text", 0),
    ("number", "int4", 0),
    ("isTest", "bool", 0),
    ("status", "text", 0),
    ("usageDurationMs", "int4", 0),
    ("costInCents", "float8", 0),
    ("baseCostInCents", "float8", 0),
    ("ttl", "text", 0),
    ("payload", "text", 0),
    ("payloadType", "text", 0),
    ("metadata", "text", 0),
    ("metadataType", "text", 0),
    ("output", "text", 0),
    ("outputType", "text", 0),
    ("runTags", "text", 1),
    ("error", "jsonb", 0),
    ("realtimeStreams", "text", 1),
]
RESERVED = {"id", "taskIdentifier", "friendlyId", "status", "createdAt"}
UP_TO_DATE: dict[str, Any] = {"headers": {"control": "up-to-date"}}
MUST_REFETCH: dict[str, Any] = {"headers": {"control": "must-refetch"}}
_MAX_POSITIONS = 20_000
Row = dict[str, str | None]
Seen = tuple[int, Row, float]  # (updatedAt ms, row values, when the row may next move)
INF = float("inf")


def timestamp(ts: float | None, electric: bool) -> str | None:
    """Native ``2026-06-06T10:05:30.123``; Electric ``2026-06-06 10:05:30.12`` (zeros trimmed)."""
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    if not electric:
        return text
    text = text.replace("T", " ").rstrip("0")
    return text.rstrip(".")


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _array(values: list[str]) -> str:
    if not values:
        return "{}"
    quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    return "{" + ",".join(quoted) + "}"


def run_row(run: Run, v: RunView, now: float, *, electric: bool) -> Row:
    """The ``TaskRun`` row as Electric serialises it (every value a string or null)."""
    ready_at = run.delay_until if run.delay_until is not None else run.created_at
    duration_ms = 0
    if v.completed_at is not None and v.started_at is not None:
        duration_ms = int((v.completed_at - v.started_at) * 1000)
    error = None
    failure = v.error or run.error
    if v.status in {"COMPLETED_WITH_ERRORS", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"} and failure:
        error = json.dumps({"type": "BUILT_IN_ERROR", **failure}, separators=(",", ":"))
    return {
        "id": run.internal_id,
        "taskIdentifier": run.task,
        "createdAt": timestamp(run.created_at, electric),
        "updatedAt": timestamp(v.updated_at, electric),
        "startedAt": timestamp(v.started_at, electric),
        "delayUntil": timestamp(run.delay_until, electric),
        "queuedAt": timestamp(ready_at, electric) if now >= ready_at else None,
        "expiredAt": timestamp(v.expired_at, electric),
        "completedAt": timestamp(v.completed_at or v.expired_at, electric),
        "friendlyId": run.id,
        "number": str(run.number),
        "isTest": "t" if run.is_test else "f",
        "status": v.status,
        "usageDurationMs": str(duration_ms),
        "costInCents": _number(duration_ms * 0.0000169),
        "baseCostInCents": "0",
        "ttl": run.ttl_text if run.ttl else None,
        "payload": run.payload,
        "payloadType": run.payload_type,
        "metadata": run.metadata,
        "metadataType": run.metadata_type,
        "output": run.output if v.status == "COMPLETED_SUCCESSFULLY" else None,
        "outputType": run.output_type,
        "runTags": _array(run.tags) if run.tags else None,
        "error": error,
        "realtimeStreams": "{}",
    }


def schema_header(skip: set[str]) -> str:
    schema = {
        name: ({"type": kind, "dims": dims} if dims else {"type": kind})
        for name, kind, dims in COLUMNS
        if name not in skip
    }
    return json.dumps(schema, separators=(",", ":"))


def skip_columns(raw: str | None) -> set[str]:
    return {c.strip() for c in (raw or "").split(",") if c.strip() and c.strip() not in RESERVED}


def key(row_id: str) -> str:
    return f'"public"."TaskRun"/"{row_id}"'


@dataclass
class Feed:
    """What one realtime request subscribes to."""

    kind: str  # run | tags | batch
    env_id: str
    run_id: str | None = None
    tags: list[str] = field(default_factory=list)
    created_after: float = 0.0
    batch_id: str | None = None

    def runs(self, state: EmulatorState) -> list[Run]:
        runs = state.stores.runs
        if self.kind == "run":
            run = runs.get(self.run_id or "")
            return [run] if run else []
        if self.kind == "batch":
            return [r for r in runs.values() if r.env.id == self.env_id and r.batch_id == self.batch_id]
        wanted = set(self.tags)
        return [
            r
            for r in runs.values()
            if r.env.id == self.env_id and wanted <= set(r.tags) and r.created_at > self.created_after
        ]


@dataclass
class Changes:
    messages: list[dict[str, Any]]
    seen: dict[str, Seen]
    max_updated_ms: int
    version: int = 0  # state.version when computed
    next_at: float = INF  # when a row of the feed may change by itself


class Positions:
    """Remembered ``(handle, offset) -> {row id: row}``; bounded, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[int, dict[str, Seen]]] = OrderedDict()
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def get(self, handle: str, offset: str) -> tuple[int, dict[str, Seen]] | None:
        """``(state version, rows)`` remembered for a position."""
        with self._lock:
            return self._items.get((handle, offset))

    def put(self, handle: str, offset: str, changes: Changes) -> None:
        with self._lock:
            self._items[(handle, offset)] = (changes.version, changes.seen)
            while len(self._items) > _MAX_POSITIONS:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RealtimeState:
    """Per-emulator realtime bookkeeping: positions, live requests per env, counters for benchmarks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.positions = Positions()
        self.live: dict[str, int] = {}
        self.requests = 0
        self.live_requests = 0
        self.peak_live = 0
        self.rejected = 0
        self.feed_cache: dict[tuple[Any, ...], tuple[int, list[Run]]] = {}

    def enter_live(self, env_id: str, limit: int | None) -> bool:
        """Take a live slot for the env; False when ``limit`` slots are already held."""
        with self.lock:
            current = self.live.get(env_id, 0)
            if limit is not None and current >= limit:
                self.rejected += 1
                return False
            self.live[env_id] = current + 1
            self.live_requests += 1
            self.peak_live = max(self.peak_live, sum(self.live.values()))
            return True

    def leave_live(self, env_id: str) -> None:
        with self.lock:
            self.live[env_id] = max(0, self.live.get(env_id, 0) - 1)

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "liveRequests": self.live_requests,
                "peakLive": self.peak_live,
                "liveNow": sum(self.live.values()),
                "rejected": self.rejected,
            }


def offset_ms(offset: str) -> int:
    first = offset.split("_", 1)[0]
    return int(first) if first.isdigit() else 0


def diff(
    state: EmulatorState,
    feed: Feed,
    known: dict[str, Seen] | None,
    since_ms: int,
    *,
    electric: bool,
    partial: bool,
    skip: set[str],
    known_version: int | None = None,
) -> Changes:
    """Change messages for rows new or advanced since ``known`` (or newer than ``since_ms``).

    When nothing was written since ``known`` was computed (``known_version``), rows not yet due to
    move are skipped without being looked at; a row is rebuilt only when its ``updatedAt`` moved.
    """
    version, now = state.version, state.now()
    fresh = known is not None and known_version == version
    seen: dict[str, Seen] = dict(known or {})
    messages: list[dict[str, Any]] = []
    max_ms, next_at = since_ms, INF
    with state.lock:
        for run in feed_runs(state, feed, version):
            previous = seen.get(run.internal_id)
            if fresh and previous is not None and previous[2] > now:
                max_ms, next_at = max(max_ms, previous[0]), min(next_at, previous[2])
                continue
            due = state.next_change(run, now)
            next_at = min(next_at, due)
            view = state.view(run, now)
            updated_ms = int(view.updated_at * 1000)
            max_ms = max(max_ms, updated_ms)
            if previous is not None and previous[0] == updated_ms:
                seen[run.internal_id] = (updated_ms, previous[1], due)
                continue
            if known is None and previous is None and updated_ms <= since_ms:
                continue  # unknown position: the client already had this state
            row = {k: v for k, v in run_row(run, view, now, electric=electric).items() if k not in skip}
            seen[run.internal_id] = (updated_ms, row, due)
            if previous is not None and previous[1] == row:
                continue
            if previous is None and known is not None:
                operation, value = "insert", row
            elif previous is None or not partial:
                operation, value = "update", row
            else:
                operation = "update"
                value = {"id": row["id"], **{k: v for k, v in row.items() if previous[1].get(k) != v}}
            messages.append(
                {"key": key(run.internal_id), "value": value, "headers": {"operation": operation}}
            )
    return Changes(messages, seen, max_ms, version, next_at)


def feed_runs(state: EmulatorState, feed: Feed, version: int) -> list[Run]:
    """The feed's runs, cached until the next write (membership only changes on writes)."""
    if feed.kind == "run":
        return feed.runs(state)
    cache_key = (feed.kind, feed.env_id, tuple(feed.tags), feed.created_after, feed.batch_id)
    cached = state.realtime.feed_cache.get(cache_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    runs = feed.runs(state)
    state.realtime.feed_cache[cache_key] = (version, runs)
    return runs


def snapshot(state: EmulatorState, feed: Feed, *, electric: bool, skip: set[str]) -> Changes:
    """Inserts for every row of the feed."""
    return diff(state, feed, {}, 0, electric=electric, partial=False, skip=skip)


def new_handle(feed: Feed, now: float, seq: int) -> str:
    if feed.kind == "run":
        return f"run-{feed.run_id}"
    if feed.kind == "batch":
        return f"batch_{feed.batch_id}_{seq}_{secrets.token_hex(4)}"
    return f"runs_{int(feed.created_after * 1000)}_{seq}_{secrets.token_hex(4)}"


def handle_created_after(handle: str) -> float | None:
    """The tag feed's pinned ``createdAt`` window, recovered from a ``runs_<ms>_…`` handle."""
    parts = handle.split("_")
    if len(parts) >= 2 and parts[0] == "runs" and parts[1].isdigit():
        return int(parts[1]) / 1000
    return None
