"""What a run's status means for a wait, decided once for every waiting path (sans-IO).

Statuses come from the client's sets (never the API's ``isCompleted``); each status change is logged
once with the run's URL; an unknown status from a newer server keeps the wait going with one warning;
a run stuck in ``PENDING_VERSION`` (no deployed version runs its task) gets one warning saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_trigger.client import FAILURE_STATUSES, SUCCESS_STATUSES, TERMINAL_STATUSES, RunStatus

if TYPE_CHECKING:
    from airflow_provider_trigger.client import Run

KNOWN_STATUSES: frozenset[str] = frozenset(str(s) for s in RunStatus)
TERMINAL: frozenset[str] = frozenset(str(s) for s in TERMINAL_STATUSES)
SUCCESS: frozenset[str] = frozenset(str(s) for s in SUCCESS_STATUSES)
#: Every terminal status but success fails a wait (CANCELED included: the run will never complete).
FAILURE: frozenset[str] = frozenset(str(s) for s in FAILURE_STATUSES) | (TERMINAL - SUCCESS)
CANCELED = "CANCELED"
PENDING_VERSION = "PENDING_VERSION"

Log = logging.Logger | Any


def status_name(run: Run) -> str:
    """The run's status as a plain string, whether the model parsed it into the enum or not."""
    status = run.status
    return str(status.value) if isinstance(status, RunStatus) else str(status)


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


def check_statuses(target: Iterable[str], failure: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Validate a sensor's status sets: non-empty target, no overlap, upper-case names."""
    target_set = frozenset(str(s).upper() for s in target)
    failure_set = frozenset(str(s).upper() for s in failure)
    if not target_set:
        raise ValueError("target_statuses must name at least one run status, e.g. ('COMPLETED',)")
    if overlap := target_set & failure_set:
        raise ValueError(f"statuses {sorted(overlap)} are in both target_statuses and failure_statuses")
    return target_set, failure_set


def pending_version_text(run: Run, environment: str | None) -> str:
    task = run.task_identifier or "its task"
    where = f"the {environment} environment" if environment else "this environment"
    return (
        f"Trigger.dev run {run.id} is waiting in PENDING_VERSION: no deployed version in {where} runs "
        f"task {task!r}. Is the task id spelled right, is a dev server running (`npx trigger.dev dev`), "
        f"or is a deploy still in progress? The run waits until a version with the task is deployed or "
        f"its TTL expires it (EXPIRED); this wait ends at its timeout at the latest."
    )


class RunWatch:
    """Decides when a wait on one run is over and logs its progress: each status change once, with URL."""

    def __init__(
        self,
        run_id: str,
        *,
        url: str | None,
        log: Log,
        target_statuses: Collection[str] = SUCCESS,
        failure_statuses: Collection[str] = FAILURE,
        environment: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.url = url
        self.log = log
        self.environment = environment
        self.target = frozenset(target_statuses)
        self.failure = frozenset(failure_statuses)
        self.last_status: str | None = None
        self.last_run: Run | None = None
        self._warned: set[str] = set()

    def outcome(self, run: Run) -> str | None:
        """``"success"``, ``"failed"`` or ``None`` (keep waiting) for this snapshot of the run."""
        status = status_name(run)
        self.last_run = run
        self._observe(run, status)
        if status in self.target:
            return "success"
        if status in self.failure or status in TERMINAL:
            return "failed"
        return None

    def _observe(self, run: Run, status: str) -> None:
        if status == self.last_status:
            return
        self.last_status = status
        self.log.info("Trigger.dev run %s is %s: %s", self.run_id, status, self.url or "(no URL)")
        if status in self._warned:
            return
        if status == PENDING_VERSION:
            self._warned.add(status)
            self.log.warning("%s", pending_version_text(run, self.environment))
        elif status not in KNOWN_STATUSES:
            self._warned.add(status)
            self.log.warning(
                "Run %s reports status %r, unknown to this provider version; treating it as not finished.",
                self.run_id,
                status,
            )


class RunSet:
    """The open and decided runs of one wait (one run, or every run of a batch)."""

    def __init__(self, watches: Iterable[RunWatch]) -> None:
        self.watches = {w.run_id: w for w in watches}
        self.decided: dict[str, tuple[str, Run]] = {}

    @property
    def run_ids(self) -> list[str]:
        return list(self.watches)

    def pending(self) -> list[str]:
        return [run_id for run_id in self.watches if run_id not in self.decided]

    def observe(self, run: Run) -> bool:
        """Record one snapshot of a run; True once every run is decided."""
        watch = self.watches.get(run.id)
        if watch is not None and run.id not in self.decided and (outcome := watch.outcome(run)):
            self.decided[run.id] = (outcome, run)
        return self.done

    @property
    def done(self) -> bool:
        return len(self.decided) == len(self.watches)

    def statuses(self) -> dict[str, str | None]:
        return {run_id: w.last_status for run_id, w in self.watches.items()}

    def failed(self) -> list[str]:
        return sorted(r for r, (outcome, _) in self.decided.items() if outcome == "failed")

    def still_running_text(self, timeout_note: str) -> str:
        pending = self.pending()
        if len(self.watches) == 1:
            watch = next(iter(self.watches.values()))
            return (
                f"Trigger.dev run {watch.run_id} was still {watch.last_status or 'unknown'} {timeout_note} "
                f"({watch.url or 'no URL'}); the run keeps going."
            )
        return (
            f"{len(pending)} of {len(self.watches)} Trigger.dev runs were still running {timeout_note}: "
            f"{', '.join(pending)}; the runs keep going."
        )
