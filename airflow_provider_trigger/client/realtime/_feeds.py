"""The three feeds' paths and parameters, validated before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Iterable

from airflow_provider_trigger.client._request import segment
from airflow_provider_trigger.client.errors import TriggerClientError
from airflow_provider_trigger.client.realtime._protocol import (
    DEFAULT_READ_TIMEOUT,
    FeedState,
    RealtimeBackoff,
)

RESERVED_COLUMNS = frozenset({"id", "taskIdentifier", "friendlyId", "status", "createdAt"})
DEFAULT_SKIP_COLUMNS = ("payload", "metadata")
"""Skipped by default on the single-run feed: the native backend re-sends full rows on every change."""
_CREATED_AT = re.compile(r"^(\d+(w|d|hr|h|m|s))+$")


def _skip(columns: Iterable[str] | None) -> dict[str, str]:
    names = [c for c in (columns or ()) if c]
    if reserved := sorted(set(names) & RESERVED_COLUMNS):
        raise TriggerClientError(f"skip_columns cannot skip the reserved columns {reserved}")
    return {"skipColumns": ",".join(names)} if names else {}


def _options(
    read_timeout: float | None, backoff: RealtimeBackoff | None, min_live_interval: float = 0.0
) -> dict[str, object]:
    timeout = DEFAULT_READ_TIMEOUT if read_timeout is None else float(read_timeout)
    if timeout <= 0:
        raise TriggerClientError(f"read_timeout must be > 0 seconds, got {timeout:g}")
    if min_live_interval < 0:
        raise TriggerClientError(f"min_live_interval must be >= 0 seconds, got {min_live_interval:g}")
    return {
        "read_timeout": timeout,
        "backoff": backoff or RealtimeBackoff(),
        "min_live_interval": float(min_live_interval),
    }


def run_feed(
    run_id: str,
    *,
    skip_columns: Iterable[str] | None,
    stop_on_completion: bool,
    read_timeout: float | None,
    backoff: RealtimeBackoff | None,
) -> FeedState:
    if not isinstance(run_id, str) or not run_id.startswith("run_"):
        raise TriggerClientError(f"run_id must be a Trigger.dev run id starting with 'run_', got {run_id!r}")
    return FeedState(
        f"/realtime/v1/runs/{segment(run_id, 'run_id')}",
        _skip(skip_columns),
        stop_when_finished=stop_on_completion,
        **_options(read_timeout, backoff),  # type: ignore[arg-type]
    )


def tag_feed(
    tags: str | Iterable[str],
    *,
    created_at: str | None,
    skip_columns: Iterable[str] | None,
    read_timeout: float | None,
    backoff: RealtimeBackoff | None,
    min_live_interval: float,
) -> FeedState:
    names = [tags] if isinstance(tags, str) else list(tags)
    if not names:
        raise TriggerClientError("subscribe_to_runs_with_tag needs at least one tag")
    for tag in names:
        if not isinstance(tag, str) or not tag or any(ord(c) < 32 or c in '\\",' for c in tag):
            raise TriggerClientError(f'invalid tag {tag!r}: tags are non-empty, without , \\ " or controls')
    params = {"tags": ",".join(names), **_skip(skip_columns)}
    if created_at is not None:
        if not _CREATED_AT.match(created_at):
            raise TriggerClientError(
                f"created_at must be a duration such as '1h', '30m' or '1d' (at most 1 day), "
                f"got {created_at!r}"
            )
        params["createdAt"] = created_at
    options = _options(read_timeout, backoff, min_live_interval)
    return FeedState("/realtime/v1/runs", params, **options)  # type: ignore[arg-type]


def batch_feed(
    batch_id: str,
    *,
    skip_columns: Iterable[str] | None,
    read_timeout: float | None,
    backoff: RealtimeBackoff | None,
    min_live_interval: float,
) -> FeedState:
    if not isinstance(batch_id, str) or not batch_id.startswith("batch_"):
        raise TriggerClientError(f"batch_id must start with 'batch_', got {batch_id!r}")
    path = f"/realtime/v1/batches/{segment(batch_id, 'batch_id')}"
    options = _options(read_timeout, backoff, min_live_interval)
    return FeedState(path, _skip(skip_columns), **options)  # type: ignore[arg-type]
