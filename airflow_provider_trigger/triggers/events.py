"""Start DAGs from Trigger.dev: one asset event per new run that ends in chosen statuses (AssetWatcher)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_trigger._compat import AIRFLOW_V_3_3_PLUS, needs_airflow
from airflow_provider_trigger.client import KeyKind
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.triggers.cursor import RunCursor, finished_time
from airflow_provider_trigger.triggers.engine.incidents import Incident
from airflow_provider_trigger.triggers.engine.statuses import TERMINAL, status_name

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient, Run

CLASSPATH = "airflow_provider_trigger.triggers.events.TriggerRunEventTrigger"
CURSOR_KEY_PREFIX = "trigger.dev/runs"
EVENT_PERSIST_DELAY = 3.0
"""Seconds between handing an event to the triggerer and storing the cursor that marks it announced:
the triggerer sends its events to Airflow about once a second, and a cursor stored before Airflow
persisted the event would lose it if the triggerer died in between."""
DEFAULT_MAX_OUTPUT_BYTES = 4096
"""Outputs up to this size (JSON) ride in asset events; larger ones are left out (fetch them by run id)."""


def small_output(output: Any, max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> dict[str, Any]:
    """``{"output": output}`` when it is JSON of at most ``max_bytes``, else ``{"output_omitted": why}``."""
    try:
        size = len(json.dumps(output, allow_nan=False).encode())
    except (TypeError, ValueError):
        return {"output_omitted": "not JSON"}
    if size > max_bytes:
        return {"output_omitted": f"{size} bytes, over the {max_bytes}-byte limit"}
    return {"output": output}


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    if any(not isinstance(item, str) or not item.strip() for item in items):
        raise ValueError(f"{what} must be non-empty strings, got {items!r}")
    return sorted(set(items))


class TriggerRunEventTrigger(BaseEventTrigger):
    """Fire one asset event for every **new** run of a Trigger.dev task that ends in one of ``statuses``.

    For ``Asset(..., watchers=[AssetWatcher("name", TriggerRunEventTrigger(task_identifier="ingest"))])``:
    a DAG scheduled on that asset runs after each completed ``ingest`` run. The event's payload (in
    ``triggering_asset_events[asset][i].extra["payload"]``) is small JSON: ``run_id``,
    ``task_identifier``, ``status``, ``finished_at``, ``created_at``, ``tags``, ``run_url``, and with
    ``include_output`` the run's ``output`` when it fits ``max_output_bytes`` (else ``output_omitted``).

    **Where it starts.** On its very first start the watcher takes the runs that have already ended as
    seen and fires only for runs that end afterwards (it never replays history), unless ``since`` (an
    ISO timestamp, fixed in the DAG file) asks for every run that ended after that moment.

    **Exactly once per run.** The watcher keeps a cursor (a finished-time floor plus the ids of the runs
    it announced since) in the asset's ``asset_state_store`` (Airflow 3.3+) under a key derived from
    its connection, task identifiers, tags and statuses, so a triggerer restart, a redeploy or another
    triggerer taking over continues where it stopped; changing ``poll_interval`` or ``include_output``
    keeps the cursor. The cursor is stored one poll after an event is handed to the triggerer, and at
    least ``EVENT_PERSIST_DELAY`` (3 s) later, once Airflow has persisted the event: a triggerer killed
    in between fires that run again on restart (at-least-once), never loses it. Before Airflow 3.3,
    or when two assets share one watcher trigger (identical kwargs: Airflow then refuses the store's
    shorthand with ``ValueError``), the cursor lives in memory: a restart starts again from "now",
    so nothing fires twice but runs that end while the watcher is down are not announced. The stored
    cursor outlives a paused DAG: unpausing it announces the runs that ended meanwhile (see ``lookback``).

    **Late listings.** Run lists can lag a little behind reality; a run that shows up within
    ``settle_time`` seconds after later runs still fires (once), later than that it is skipped.
    Runs are looked for among those created at most ``lookback`` seconds before the cursor, so a run
    that takes longer than ``lookback`` from trigger to end is never announced.

    **Errors.** API incidents (5xx, 429, connection errors…) are waited out inside ``run()`` with
    backoff (at least ``poll_interval``, at most ``max_backoff`` seconds), logged when they start and
    end, and never turned into events; a permanent error (401/403, a misconfigured connection) ends the
    watcher with a clear message, as every wait of this provider does.

    :param task_identifier: task id(s) to watch (any of them).
    :param tags: run tag(s) to watch (runs with any of them). With both, a run must match both filters.
    :param statuses: terminal statuses that count, default ``["COMPLETED"]``; e.g. add ``"FAILED"``.
    :param trigger_conn_id: Airflow connection of type ``trigger`` (a secret key, or a PAT with
        ``project_ref``; ``include_output`` needs a secret key).
    :param poll_interval: seconds between two looks at the run list.
    :param include_output: put the run's (small) output into the event (one extra request per run).
    :param max_output_bytes: the largest output, as JSON, that goes into an event.
    :param since: first start only: announce runs that ended after this ISO timestamp.
    :param settle_time: seconds a late-listed run may trail newer ones and still fire.
    :param lookback: the longest a watched run may take from creation to end, in seconds.
    :param max_backoff: the longest wait between two attempts after errors, in seconds.
    """

    def __init__(
        self,
        *,
        task_identifier: str | Sequence[str] | None = None,
        tags: str | Sequence[str] | None = None,
        statuses: Sequence[str] = ("COMPLETED",),
        trigger_conn_id: str = TriggerHook.default_conn_name,
        poll_interval: float = 30.0,
        include_output: bool = False,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        since: str | None = None,
        settle_time: float = 60.0,
        lookback: float = 86_400.0,
        max_backoff: float = 600.0,
    ) -> None:
        super().__init__()
        self.task_identifier = _names(task_identifier, "task_identifier")
        self.tags = _names(tags, "tags")
        if not self.task_identifier and not self.tags:
            raise ValueError("TriggerRunEventTrigger needs task_identifier= or tags= (or both) to watch")
        self.statuses = sorted(
            {str(s).upper() for s in ([statuses] if isinstance(statuses, str) else statuses)}
        )
        if not self.statuses or set(self.statuses) - TERMINAL:
            raise ValueError(
                f"statuses must be terminal run statuses ({', '.join(sorted(TERMINAL))}), got {statuses!r}"
            )
        for name, value in (("poll_interval", poll_interval), ("max_backoff", max_backoff)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value}")
        for name, value in (("settle_time", settle_time), ("lookback", lookback)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {value}")
        if since is not None:
            parsed = datetime.fromisoformat(since) if isinstance(since, str) else None
            if parsed is None or parsed.tzinfo is None:
                raise ValueError(
                    f"since must be an ISO timestamp with a timezone, e.g. 2026-01-01T00:00Z; got {since!r}"
                )
        self.trigger_conn_id = trigger_conn_id
        self.poll_interval = float(poll_interval)
        self.include_output = bool(include_output)
        self.max_output_bytes = int(max_output_bytes)
        self.since = since
        self.settle_time = float(settle_time)
        self.lookback = float(lookback)
        self.max_backoff = float(max_backoff)
        self._memory_only_reason: str | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "task_identifier": list(self.task_identifier),
                "tags": list(self.tags),
                "statuses": list(self.statuses),
                "trigger_conn_id": self.trigger_conn_id,
                "poll_interval": self.poll_interval,
                "include_output": self.include_output,
                "max_output_bytes": self.max_output_bytes,
                "since": self.since,
                "settle_time": self.settle_time,
                "lookback": self.lookback,
                "max_backoff": self.max_backoff,
            },
        )

    @property
    def cursor_key(self) -> str:
        """The asset-state key: a hash of what is watched, so tuning knobs keeps the cursor."""
        identity = {
            "conn": self.trigger_conn_id,
            "task_identifier": self.task_identifier,
            "tags": self.tags,
            "statuses": self.statuses,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
        return f"{CURSOR_KEY_PREFIX}:{digest}"

    # -- the cursor in the asset state store ------------------------------------------------------

    def _store(self) -> Any:
        store = getattr(self, "asset_state_store", None)
        if store is None and self._memory_only_reason is None:
            why = "not run by an AssetWatcher" if AIRFLOW_V_3_3_PLUS else needs_airflow("3.3", "the store")
            self._memory_only(f"no asset_state_store ({why}): a triggerer restart starts again from now")
        return None if self._memory_only_reason else store

    def _memory_only(self, reason: str) -> None:
        self._memory_only_reason = reason
        self.log.warning("Trigger.dev run watcher keeps its cursor in memory only: %s", reason)

    async def _load_cursor(self) -> RunCursor | None:
        if (store := self._store()) is None:
            return None
        try:
            if hasattr(store, "aget"):
                value = await store.aget(self.cursor_key)
            else:  # Airflow 3.3.0/3.3.1: sync accessors only
                value = await asyncio.to_thread(store.get, self.cursor_key)
        except ValueError as exc:  # the shorthand refuses a trigger row shared by several assets
            self._memory_only(f"the asset state store refused the shorthand ({exc})")
            return None
        if value is None:
            return None
        try:
            return RunCursor.from_json(value)
        except ValueError as exc:
            self.log.warning("Ignoring the stored cursor %s: %s; starting from now", self.cursor_key, exc)
            return None

    async def _save_cursor(self, cursor: RunCursor) -> None:
        if (store := self._store()) is None:
            return
        value = cursor.to_json()
        try:
            if hasattr(store, "aset"):
                await store.aset(self.cursor_key, value)
            else:
                await asyncio.to_thread(store.set, self.cursor_key, value)
        except ValueError as exc:
            self._memory_only(f"the asset state store refused the shorthand ({exc})")
        except Exception as exc:  # the in-memory cursor stays right; the next save may succeed
            self.log.warning("Could not save the run cursor %s: %s", self.cursor_key, exc)

    # -- polling ----------------------------------------------------------------------------------

    async def _ended_runs(self, hook: TriggerHook, created_from: datetime) -> list[tuple[Run, datetime]]:
        """Watched runs created since ``created_from`` that ended in one of ``statuses``, every page."""
        client: AsyncTriggerClient = await hook.get_async_client()
        settings = await hook.aget_settings()
        where: dict[str, Any] = {}
        if settings.key_kind is KeyKind.PAT:
            where = {"project_ref": hook.project_ref, "env": settings.environment}
        # The server's FAILED filter misses interrupted runs, which it reports as FAILED.
        server_statuses = [*self.statuses, *(["INTERRUPTED"] if "FAILED" in self.statuses else [])]
        filters: dict[str, Any] = {"status": server_statuses, "from_": created_from}
        if self.task_identifier:
            filters["task_identifier"] = self.task_identifier
        if self.tags:
            filters["tag"] = self.tags
        ended: list[tuple[Run, datetime]] = []
        async for run in await client.runs.list(limit=100, **where, **filters):
            if status_name(run) in self.statuses and (finished := finished_time(run)) is not None:
                ended.append((run, finished))
        return ended

    async def _start(self, hook: TriggerHook) -> RunCursor:
        """The stored cursor, else a new one: after ``since``, or after every run that ended already."""
        if (cursor := await self._load_cursor()) is not None:
            self.log.info("Watching Trigger.dev runs (%s) from the stored cursor", self._describe())
            return cursor
        if self.since is not None:
            cursor = RunCursor(after=datetime.fromisoformat(self.since))
            self.log.info("Watching Trigger.dev runs (%s) that ended after %s", self._describe(), self.since)
        else:
            cursor = RunCursor()
            ended = await self._ended_runs(hook, datetime.now(UTC) - timedelta(seconds=self.lookback))
            for run, finished in ended:
                cursor.add(run.id, finished, self.settle_time)
            self.log.info(
                "Watching Trigger.dev runs (%s), from now: %d run(s) that already ended will not fire",
                self._describe(),
                len(ended),
            )
        await self._save_cursor(cursor)
        return cursor

    async def _new_runs(self, hook: TriggerHook, cursor: RunCursor) -> list[tuple[Run, dict[str, Any]]]:
        """The runs that ended after the cursor, oldest first, each with its event payload."""
        newest = cursor.after if cursor.after is not None else datetime.now(UTC)
        ended = await self._ended_runs(
            hook, min(newest, datetime.now(UTC)) - timedelta(seconds=self.lookback)
        )
        fresh = {run.id: (finished, run) for run, finished in ended if cursor.is_new(run.id, finished)}
        ordered = [run for _, run in sorted(fresh.values(), key=lambda item: (item[0], item[1].id))]
        return [(run, await self._payload(hook, run)) for run in ordered]

    async def _payload(self, hook: TriggerHook, run: Run) -> dict[str, Any]:
        finished = finished_time(run)
        payload: dict[str, Any] = {
            "run_id": run.id,
            "task_identifier": run.task_identifier,
            "status": status_name(run),
            "finished_at": None if finished is None else finished.isoformat(),
            "created_at": None if run.created_at is None else run.created_at.isoformat(),
            "tags": list(run.tags),
            "run_url": hook.run_url(run.id),
        }
        if self.include_output:
            if (await hook.aget_settings()).key_kind is KeyKind.PAT:
                payload["output_omitted"] = "a personal access token cannot read run outputs"
            else:
                client = await hook.get_async_client()
                output = (await client.runs.retrieve(run.id)).output
                payload.update(small_output(output, self.max_output_bytes))
        return payload

    def _describe(self) -> str:
        parts = [f"task {', '.join(self.task_identifier)}"] if self.task_identifier else []
        parts += [f"tags {', '.join(self.tags)}"] if self.tags else []
        return f"{'; '.join(parts)}; ending {', '.join(self.statuses)}"

    async def _next_batch(
        self, hook: TriggerHook, cursor: RunCursor | None, incident: Incident
    ) -> tuple[RunCursor, list[tuple[Run, dict[str, Any]]]]:
        """Start (first call) and poll once. API incidents are waited out with backoff up to
        ``max_backoff`` (logged when they start and end); a permanent error ends the watcher loudly."""
        while True:
            try:
                if cursor is None:
                    cursor = await self._start(hook)
                batch = await self._new_runs(hook, cursor)
            except Exception as exc:
                delay = incident.failed(exc, max(self.poll_interval, self.max_backoff))
                await asyncio.sleep(max(delay, self.poll_interval))
                continue
            incident.recovered()
            return cursor, batch

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = TriggerHook(trigger_conn_id=self.trigger_conn_id)
        cursor: RunCursor | None = None
        incident = Incident(f"Trigger.dev runs ({self._describe()})", self.log)
        unsaved: list[tuple[float, RunCursor]] = []  # (handed over at, the cursor just after)
        try:
            while True:
                cursor, batch = await self._next_batch(hook, cursor, incident)
                for run, payload in batch:
                    self.log.info(
                        "Trigger.dev run %s of %s ended %s: %s",
                        run.id,
                        run.task_identifier,
                        payload["status"],
                        payload["run_url"],
                    )
                    yield TriggerEvent(payload)
                    # In memory at once (the next poll must not announce it again); stored only once
                    # Airflow has had time to persist the event, so a crash never loses it.
                    cursor.add(run.id, finished_time(run) or datetime.now(UTC), self.settle_time)
                    unsaved.append((time.monotonic(), RunCursor.from_json(cursor.to_json())))
                await asyncio.sleep(self.poll_interval)
                await self._save_ripe(unsaved)
        finally:  # a stop keeps the events that had time to be persisted
            await asyncio.shield(self._save_ripe(unsaved))

    async def _save_ripe(self, unsaved: list[tuple[float, RunCursor]]) -> None:
        """Store the newest cursor whose events were handed over ``EVENT_PERSIST_DELAY`` ago or more."""
        ripe = [c for handed_over, c in unsaved if time.monotonic() - handed_over >= EVENT_PERSIST_DELAY]
        if ripe:
            del unsaved[: len(ripe)]
            await self._save_cursor(ripe[-1])
