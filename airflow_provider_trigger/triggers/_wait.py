"""Waiting on runs: status decisions, a readable progress trail and the errors a wait ends in.

Shared by the operators, the sensor and the deferrable triggers, so every wait decides the same way:
statuses come from the client's sets (never the API's ``isCompleted``), each status change is logged
once with the run's URL, and an unknown status from a newer server keeps the wait going with one warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_trigger.client import (
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    ApiError,
    KeyKind,
    RealtimeBackoff,
    RunStatus,
    TriggerClientError,
)
from airflow_provider_trigger.client.realtime import output_in_feed

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient, Run, TriggerClient

KNOWN_STATUSES: frozenset[str] = frozenset(str(s) for s in RunStatus)
TERMINAL: frozenset[str] = frozenset(str(s) for s in TERMINAL_STATUSES)
SUCCESS: frozenset[str] = frozenset(str(s) for s in SUCCESS_STATUSES)
#: Every terminal status but success fails a wait (CANCELED included: the run will never complete).
FAILURE: frozenset[str] = frozenset(str(s) for s in FAILURE_STATUSES) | (TERMINAL - SUCCESS)
CANCELED = "CANCELED"
WAIT_MODES = ("realtime", "poll")
"""``realtime`` (default): push updates over the realtime API, falling back to polling by itself."""
REALTIME_BACKOFF = RealtimeBackoff(max_errors=4)
"""A realtime wait gives up after 4 consecutive failures (about 0.5 s of backoff), then polls."""
MAX_EVENT_OUTPUT_BYTES = 64 * 1024
"""Outputs up to this size travel inside trigger events; larger ones are fetched again on resume."""


class TriggerRunFailedError(AirflowException):
    """A run ended in a failure status; an Airflow retry starts a new run (the server cleared its key)."""

    def __init__(self, message: str, *, run_id: str, status: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status


class TriggerRunCanceledError(AirflowFailException):
    """A run was canceled in Trigger.dev: someone decided it should stop, so the task is not retried."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = CANCELED


class TriggerWaitTimeoutError(AirflowException):
    """The wait's ``timeout`` passed before the run finished; the run keeps going (a retry re-attaches)."""


def status_name(run: Run) -> str:
    """The run's status as a plain string, whether the model parsed it into the enum or not."""
    status = run.status
    return str(status.value) if isinstance(status, RunStatus) else str(status)


def run_output(run: Run) -> Any:
    """The run's output as parsed JSON (``None`` when it has none)."""
    return getattr(run, "output", None)


def error_message(run: Run) -> str:
    """The run's error message, or a sentence saying there is none."""
    error = getattr(run, "error", None)
    if error is None:
        return "no error message"
    message = error.get("message") if isinstance(error, dict) else getattr(error, "message", None)
    name = error.get("name") if isinstance(error, dict) else getattr(error, "name", None)
    text = str(message or "no error message")
    return f"{name}: {text}" if name and name not in text else text


def failure_text(run_id: str, status: str, message: str, url: str | None) -> str:
    where = f" ({url})" if url else ""
    return f"Trigger.dev run {run_id} ended {status}: {message}{where}"


def raise_for_failure(run_id: str, status: str, message: str, url: str | None) -> None:
    """Raise the error a failed run deserves (CANCELED fails without retries, the rest may retry)."""
    text = failure_text(run_id, status, message, url)
    if status == CANCELED:
        raise TriggerRunCanceledError(text, run_id=run_id)
    raise TriggerRunFailedError(text, run_id=run_id, status=status)


def event_output(output: Any) -> tuple[bool, Any]:
    """``(True, output)`` when the output is small enough to ride in a trigger event."""
    try:
        size = len(json.dumps(output, default=str))
    except (TypeError, ValueError):
        return False, None
    return (True, output) if size <= MAX_EVENT_OUTPUT_BYTES else (False, None)


def check_statuses(target: Iterable[str], failure: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Validate a sensor's status sets: non-empty target, no overlap, upper-case names."""
    target_set = frozenset(str(s).upper() for s in target)
    failure_set = frozenset(str(s).upper() for s in failure)
    if not target_set:
        raise ValueError("target_statuses must name at least one run status, e.g. ('COMPLETED',)")
    if overlap := target_set & failure_set:
        raise ValueError(f"statuses {sorted(overlap)} are in both target_statuses and failure_statuses")
    return target_set, failure_set


class RunProgress:
    """Logs each status change of one run once, with the run's URL; warns once about unknown statuses."""

    def __init__(self, run_id: str, url: str | None, log: logging.Logger | Any) -> None:
        self.run_id = run_id
        self.url = url
        self.log = log
        self.last_status: str | None = None
        self._warned: set[str] = set()

    def observe(self, status: str) -> None:
        if status == self.last_status:
            return
        self.last_status = status
        self.log.info("Trigger.dev run %s is %s: %s", self.run_id, status, self.url or "(no URL)")
        if status not in KNOWN_STATUSES and status not in self._warned:
            self._warned.add(status)
            self.log.warning(
                "Run %s reports status %r, unknown to this provider version; treating it as not finished.",
                self.run_id,
                status,
            )


class RunWatch:
    """Decides when a wait on one run is over: a target status, a failure status, or any terminal one."""

    def __init__(
        self,
        run_id: str,
        *,
        url: str | None,
        log: logging.Logger | Any,
        target_statuses: Collection[str] = SUCCESS,
        failure_statuses: Collection[str] = FAILURE,
    ) -> None:
        self.run_id = run_id
        self.progress = RunProgress(run_id, url, log)
        self.target = frozenset(target_statuses)
        self.failure = frozenset(failure_statuses)

    def outcome(self, run: Run) -> str | None:
        """``"success"``, ``"failed"`` or ``None`` (keep waiting) for this snapshot of the run."""
        status = status_name(run)
        self.progress.observe(status)
        if status in self.target:
            return "success"
        if status in self.failure or status in TERMINAL:
            return "failed"
        return None


def wait_for_run(
    retrieve: Callable[[str], Run],
    watch: RunWatch,
    *,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, Run]:
    """Poll ``retrieve(run_id)`` until ``watch`` decides; return ``(outcome, run)``.

    Raises :class:`TriggerWaitTimeoutError` when ``timeout`` seconds pass first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = retrieve(watch.run_id)
        if (outcome := watch.outcome(run)) is not None:
            return outcome, run
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TriggerWaitTimeoutError(
                    f"Trigger.dev run {watch.run_id} was still {watch.progress.last_status} after "
                    f"{timeout:g}s ({watch.progress.url or 'no URL'}); the run keeps going."
                )
            sleep(min(poll_interval, remaining))
        else:
            sleep(poll_interval)


def wait_for_runs(
    retrieve: Callable[[str], Run],
    watches: list[RunWatch],
    *,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, tuple[str, Run]]:
    """Poll every unfinished run each round until all are decided; return ``{run_id: (outcome, run)}``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    done: dict[str, tuple[str, Run]] = {}
    while True:
        for watch in watches:
            if watch.run_id not in done:
                run = retrieve(watch.run_id)
                if (outcome := watch.outcome(run)) is not None:
                    done[watch.run_id] = (outcome, run)
        if len(done) == len(watches):
            return done
        pending = [w.run_id for w in watches if w.run_id not in done]
        if deadline is not None and time.monotonic() >= deadline:
            raise TriggerWaitTimeoutError(
                f"{len(pending)} of {len(watches)} Trigger.dev runs were still running after {timeout:g}s: "
                f"{', '.join(pending)}; the runs keep going."
            )
        sleep(
            poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic()))
        )


# -- realtime waits (worker side; the triggerer side shares feeds, see triggers/_multiplexer.py) ----


MAX_TAGS = 10


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


def check_wait_mode(value: str) -> str:
    if value not in WAIT_MODES:
        raise ValueError(f"wait_mode must be 'realtime' or 'poll', got {value!r}")
    return value


def realtime_blocker(client: TriggerClient | AsyncTriggerClient) -> str | None:
    """Why this client cannot wait in realtime (a PAT cannot read realtime feeds), else ``None``."""
    if client.key_kind is KeyKind.PAT:
        return "a personal access token cannot read realtime feeds"
    return None


def log_fallback(log: logging.Logger | Any, what: str, reason: str) -> None:
    """The one message a wait logs when it leaves realtime for polling."""
    log.warning("Realtime updates unavailable for %s (%s); polling instead.", what, reason)


def wait_for_run_realtime(
    client: TriggerClient, watch: RunWatch, *, timeout: float | None, log: logging.Logger | Any
) -> tuple[str, Run] | None:
    """Follow the run's realtime feed until ``watch`` decides; ``None`` means "poll instead" (logged).

    Raises :class:`TriggerWaitTimeoutError` when ``timeout`` seconds pass first.
    """
    if reason := realtime_blocker(client):
        log_fallback(log, f"run {watch.run_id}", reason)
        return None
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        feed = client.runs.subscribe_to_run(watch.run_id, backoff=REALTIME_BACKOFF)
        for batch in feed.batches(until=deadline):
            for run in batch:
                if (outcome := watch.outcome(run)) is not None:
                    return outcome, complete_run(client, run)
    except (ApiError, TriggerClientError) as exc:
        log_fallback(log, f"run {watch.run_id}", f"{type(exc).__name__}: {exc}")
        return None
    if deadline is not None and time.monotonic() >= deadline:
        raise TriggerWaitTimeoutError(
            f"Trigger.dev run {watch.run_id} was still {watch.progress.last_status} after "
            f"{timeout:g}s ({watch.progress.url or 'no URL'}); the run keeps going."
        )
    log_fallback(log, f"run {watch.run_id}", "the feed ended before the run was decided")
    return None


def wait_for_batch_realtime(
    client: TriggerClient,
    batch_id: str,
    watches: list[RunWatch],
    *,
    timeout: float | None,
    log: logging.Logger | Any,
) -> dict[str, tuple[str, Run]] | None:
    """Follow the batch's realtime feed until every watch decides; ``None`` means "poll instead".

    Runs missing from the feed's first answer (e.g. re-attached runs of an earlier batch) also mean
    "poll instead". Raises :class:`TriggerWaitTimeoutError` when ``timeout`` seconds pass first.
    """
    what = f"batch {batch_id}"
    if reason := realtime_blocker(client):
        log_fallback(log, what, reason)
        return None
    by_id = {w.run_id: w for w in watches}
    seen: set[str] = set()
    done: dict[str, tuple[str, Run]] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        feed = client.runs.subscribe_to_batch(batch_id, backoff=REALTIME_BACKOFF)
        for batch in feed.batches(until=deadline):
            for run in batch:
                seen.add(run.id)
                watch = by_id.get(run.id)
                if watch is not None and run.id not in done and (outcome := watch.outcome(run)):
                    done[run.id] = (outcome, complete_run(client, run))
            if len(done) == len(watches):
                return done
            if missing := sorted(by_id.keys() - seen):
                log_fallback(log, what, f"runs not in the batch feed: {', '.join(missing)}")
                return None
    except (ApiError, TriggerClientError) as exc:
        log_fallback(log, what, f"{type(exc).__name__}: {exc}")
        return None
    if deadline is not None and time.monotonic() >= deadline:
        raise TriggerWaitTimeoutError(
            f"{len(watches) - len(done)} of {len(watches)} Trigger.dev runs of batch {batch_id} "
            f"were still running after {timeout:g}s; the runs keep going."
        )
    return None


def complete_run(client: TriggerClient, run: Run) -> Run:
    """The run as the REST API returns it when the feed did not carry its output (object store)."""
    if run.is_success and not output_in_feed(run):
        return client.runs.retrieve(run.id)
    return run
