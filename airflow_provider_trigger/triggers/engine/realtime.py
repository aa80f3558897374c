"""When a wait follows the realtime API and when it falls back to polling (decided here only)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from airflow_provider_trigger.client import KeyKind, RealtimeBackoff

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient, TriggerClient

WAIT_MODES = ("realtime", "poll")
"""``realtime`` (default): push updates over the realtime API, falling back to polling by itself."""
REALTIME_BACKOFF = RealtimeBackoff(max_errors=4)
"""A realtime wait gives up after 4 consecutive failures (about 0.5 s of backoff), then polls."""
MAX_TAGS = 10


def check_wait_mode(value: str) -> str:
    if value not in WAIT_MODES:
        raise ValueError(f"wait_mode must be 'realtime' or 'poll', got {value!r}")
    return value


def dag_run_tag(dag_id: str, run_id: str) -> str:
    """The tag that marks every run triggered from one Airflow DAG run (``airflow:<20 hex>``).

    Deferred waits of that DAG run share one realtime feed of this tag in the triggerer.
    """
    return "airflow:" + hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:20]


def with_tag(tags: str | list[str] | None, tag: str) -> list[str] | None:
    """``tags`` plus ``tag``; ``None`` when the run already has the maximum of 10 tags."""
    current = [tags] if isinstance(tags, str) else list(tags or [])
    if tag in current:
        return current
    return None if len(current) >= MAX_TAGS else [*current, tag]


def realtime_blocker(client: TriggerClient | AsyncTriggerClient) -> str | None:
    """Why this client cannot wait in realtime (a PAT cannot read realtime feeds), else ``None``."""
    if client.key_kind is KeyKind.PAT:
        return "a personal access token cannot read realtime feeds"
    return None


def log_fallback(log: Any, what: str, reason: str) -> None:
    """The one message a wait logs when it leaves realtime for polling."""
    log.warning("Realtime updates unavailable for %s (%s); polling instead.", what, reason)
