"""The Electric "shape" long-poll protocol as a state machine, with no I/O.

``FeedState.request()`` describes the next GET; ``apply()`` takes its response and returns the runs
that changed (only once the feed is up to date, as the SDK emits them); ``must_refetch()`` handles a
409. The sync and async feeds in ``realtime/__init__.py`` drive the same state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_trigger.client._request import ApiRequest, identity
from airflow_provider_trigger.client._types import NO_RETRY, RequestOptions
from airflow_provider_trigger.client.models import Run
from airflow_provider_trigger.client.realtime._rows import (
    Row,
    column_types,
    decode_row,
    row_finished,
    row_to_run,
)

SLIM_COLUMNS = ("id", "friendlyId", "taskIdentifier", "status", "createdAt", "updatedAt", "completedAt")
"""What a row not kept whole keeps (``FeedState.keep_rows``)."""
ELECTRIC_VERSION = "1.0.0-beta.1"
"""Sent as ``x-trigger-electric-version``: modern header names and ``handle`` (not ``shape_id``)."""

DEFAULT_READ_TIMEOUT = 60.0
"""Seconds; above the server's longest hold of a live request (23 s)."""

PAT_HINT = (
    "realtime feeds accept an environment secret key (or a public JWT) only; with a personal access "
    "token, poll runs.retrieve() instead"
)


@dataclass(frozen=True)
class RealtimeBackoff:
    """The SDK's realtime backoff: ``initial * factor ** (n - 1)`` capped at ``maximum`` (seconds).

    ``max_errors`` consecutive failures (429, 5xx, network) end the feed with the last error;
    ``None`` retries forever, as the SDK does.
    """

    initial: float = 0.1
    factor: float = 1.3
    maximum: float = 10.0
    max_errors: int | None = None

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))


@dataclass
class FeedState:
    """Where one feed is: handle, offset, cursor, up-to-date flag, schema and the merged rows."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    stop_when_finished: bool = False
    read_timeout: float = DEFAULT_READ_TIMEOUT
    backoff: RealtimeBackoff = field(default_factory=RealtimeBackoff)
    min_live_interval: float = 0.0
    """Seconds between the starts of two live requests: changes in between arrive together."""
    last_live_start: float | None = None
    handle: str | None = None
    offset: str = "-1"
    cursor: str = ""
    up_to_date: bool = False
    expired_handle: str | None = None
    types: dict[str, str] = field(default_factory=lambda: column_types(None))
    schema_seen: bool = False
    rows: dict[str, Row] = field(default_factory=dict)
    emitted: dict[str, Any] = field(default_factory=dict)
    """key → ``updatedAt`` last handed out, so states re-sent after a must-refetch are not repeated."""
    pending: set[str] = field(default_factory=set)
    finished: bool = False
    responses: int = 0
    keep_rows: Callable[[str], bool] | None = None
    """Given a run id, whether to keep its whole row after handing it out; other rows keep only
    :data:`SLIM_COLUMNS` (enough for a status, and for Electric's partial updates to merge into), so a
    feed of many runs holds full rows only for the runs its caller cares about."""
    ids: dict[str, str] = field(default_factory=dict)
    """Run id (``friendlyId``) → row key."""

    def query(self) -> dict[str, str]:
        q = {**self.params, "offset": self.offset}
        if self.handle:
            q["handle"] = self.handle
        if self.expired_handle:
            q["expired_handle"] = self.expired_handle
        if self.up_to_date:
            q |= {"live": "true", "cursor": self.cursor}
        return q

    def request(self, timeout: float | None = None) -> ApiRequest[Any]:
        """The next GET: secret-key auth, the electric-version header, no client retries."""
        options = RequestOptions(
            retry=NO_RETRY,
            timeout=self.read_timeout if timeout is None else min(timeout, self.read_timeout),
            extra_headers={"x-trigger-electric-version": ELECTRIC_VERSION},
        )
        return ApiRequest("GET", self.path, identity, query=self.query(), options=options, hint=PAT_HINT)

    @property
    def live(self) -> bool:
        return self.up_to_date

    def apply(self, status: int, headers: Mapping[str, str], body: Any) -> list[Run]:
        """Take one 2xx response; return the changed runs once the feed is up to date."""
        self.responses += 1
        if status == 204:  # old servers: up to date, nothing changed
            self.up_to_date = True
            return self._flush()
        self.handle = headers.get("electric-handle") or self.handle
        self.offset = headers.get("electric-offset") or self.offset
        self.cursor = headers.get("electric-cursor", self.cursor)
        if not self.schema_seen and (schema := headers.get("electric-schema")):
            try:
                self.types = column_types(json.loads(schema))
                self.schema_seen = True
            except ValueError:
                pass
        for message in body if isinstance(body, list) else []:
            if not isinstance(message, dict):
                continue
            message_headers = message.get("headers") or {}
            if "key" in message:
                self._change(str(message["key"]), message_headers.get("operation"), message.get("value"))
            elif message_headers.get("control") == "up-to-date":
                self.up_to_date = True
            elif message_headers.get("control") == "must-refetch":
                self.must_refetch(headers.get("electric-handle"))
        return self._flush() if self.up_to_date else []

    def _change(self, key: str, operation: Any, value: Any) -> None:
        if operation == "delete" or not isinstance(value, dict):
            return  # the SDK ignores deletes
        decoded = decode_row(value, self.types)
        if friendly_id := decoded.get("friendlyId"):
            self.ids[friendly_id] = key
        if operation == "update":  # Electric sends only the changed columns (plus id)
            self.rows[key] = {**self.rows.get(key, {}), **decoded}
        else:
            self.rows[key] = decoded
        self.pending.add(key)

    def _flush(self) -> list[Run]:
        runs: list[Run] = []
        for key in sorted(self.pending):
            row = self.rows.get(key)
            if row is None:
                continue
            marker = (row.get("updatedAt"), row.get("status"))
            if self.emitted.get(key) == marker:
                continue
            self.emitted[key] = marker
            run = row_to_run(row)
            runs.append(run)
            if self.stop_when_finished and row_finished(row):
                self.finished = True
            if self.keep_rows is not None and not self.keep_rows(run.id):
                self.rows[key] = {c: row[c] for c in SLIM_COLUMNS if c in row}
        self.pending.clear()
        return runs

    def run_of(self, run_id: str) -> Run | None:
        """The latest state the feed holds of ``run_id`` (slim rows give a run without its output)."""
        key = self.ids.get(run_id)
        row = self.rows.get(key) if key is not None else None
        return row_to_run(row) if row is not None and self.up_to_date else None

    def must_refetch(self, new_handle: str | None) -> None:
        """409 / must-refetch: start again from ``offset=-1`` on the new (or derived) handle."""
        old = self.handle
        self.expired_handle = old
        self.handle = new_handle or (f"{old}-next" if old else None)
        self.offset, self.cursor, self.up_to_date = "-1", "", False
        self.types, self.schema_seen = column_types(None), False
        self.rows.clear()
        self.ids.clear()
        self.pending.clear()
