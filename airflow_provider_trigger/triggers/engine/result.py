"""How a wait ends, as one value: built by both drivers, carried in trigger events, turned into the
task's return value or its error in one place."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_trigger.exceptions import (
    TriggerRunCanceledError,
    TriggerRunFailedError,
    TriggerWaitError,
    TriggerWaitTimeoutError,
)
from airflow_provider_trigger.triggers.engine.statuses import CANCELED, RunSet, error_message, failure_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_trigger.client import Run

SUCCESS, FAILED, TIMEOUT, ERROR = "success", "failed", "timeout", "error"
EVENT_STATUSES = frozenset({SUCCESS, FAILED, TIMEOUT, ERROR})
MAX_EVENT_OUTPUT_BYTES = 64 * 1024
"""Outputs up to this size travel inside trigger events; larger ones are fetched again on resume."""


@dataclass
class WaitResult:
    """The end of a wait on one run or on the runs of a batch."""

    status: str
    run_ids: list[str]
    message: str
    statuses: dict[str, str | None] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    batch_id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    """Outputs known without another request: every one on the worker, small ones in events."""
    runs: dict[str, Run] = field(default_factory=dict)
    """The final snapshots (worker side only; never in events)."""

    @classmethod
    def finished(cls, runs: RunSet, batch_id: str | None = None) -> WaitResult:
        failed = runs.failed()
        total = len(runs.watches)
        if failed:
            if total == 1:
                _, run = runs.decided[failed[0]]
                message = error_message(run)
            else:
                message = f"{len(failed)} of {total} runs failed"
        elif total == 1:
            run_id, (_, run) = next(iter(runs.decided.items()))
            message = f"Run {run_id} is {runs.watches[run_id].last_status}"
        else:
            message = f"all {total} runs finished"
        snapshots = {run_id: run for run_id, (_, run) in runs.decided.items()}
        return cls(
            FAILED if failed else SUCCESS,
            runs.run_ids,
            message,
            statuses=runs.statuses(),
            failed=failed,
            batch_id=batch_id,
            outputs={run_id: run.output for run_id, run in snapshots.items() if run_id not in failed},
            runs=snapshots,
        )

    @classmethod
    def ended(cls, status: str, runs: RunSet, message: str, batch_id: str | None = None) -> WaitResult:
        """A wait that ended without a verdict on every run: ``timeout`` or ``error``."""
        return cls(
            status, runs.run_ids, message, statuses=runs.statuses(), failed=runs.failed(), batch_id=batch_id
        )

    # -- events -------------------------------------------------------------------------------------

    def to_event(self, outputs_in_event: dict[str, Any] | None = None) -> dict[str, Any]:
        """The trigger event: plain JSON; outputs only when given and small."""
        event: dict[str, Any] = {
            "status": self.status,
            "run_ids": list(self.run_ids),
            "runs": dict(self.statuses),
            "failed": list(self.failed),
            "message": self.message,
            "batch_id": self.batch_id,
        }
        if len(self.run_ids) == 1:  # the single-run shape, as earlier versions fired it
            run_id = self.run_ids[0]
            event["run_id"] = run_id
            event["run_status"] = self.statuses.get(run_id)
        small = {k: v for k, v in (outputs_in_event or {}).items() if fits_in_event(v)}
        if len(self.run_ids) == 1 and self.run_ids[0] in small:
            event["output"] = small[self.run_ids[0]]
        elif small:
            event["outputs"] = small
        return event

    @classmethod
    def from_event(cls, event: Any, what: str) -> WaitResult:
        """Parse a trigger event, of this version or of the earlier single-run / batch shapes."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
            raise AirflowException(f"Unexpected event from the Trigger.dev wait on {what}: {event!r}")
        run_ids = event.get("run_ids")
        if run_ids is None and event.get("run_id"):
            run_ids = [event["run_id"]]
        if not isinstance(run_ids, list) or not run_ids:
            raise AirflowException(f"Unexpected event from the Trigger.dev wait on {what}: {event!r}")
        run_ids = [str(r) for r in run_ids]
        statuses = dict(event.get("runs") or {})
        if "run_status" in event and len(run_ids) == 1:
            statuses.setdefault(run_ids[0], event.get("run_status"))
        outputs = dict(event.get("outputs") or {})
        if "output" in event and len(run_ids) == 1:  # earlier single-run events
            outputs[run_ids[0]] = event["output"]
        failed = [str(r) for r in event.get("failed") or []]
        if event["status"] == FAILED and not failed and len(run_ids) == 1:
            failed = run_ids
        return cls(
            str(event["status"]),
            run_ids,
            str(event.get("message") or ""),
            statuses=statuses,
            failed=failed,
            batch_id=event.get("batch_id"),
            outputs=outputs,
        )

    # -- the task's verdict -----------------------------------------------------------------------

    def raise_unless_success(self, url: Callable[[str], str]) -> None:
        """Raise the error this result deserves; return quietly on success."""
        if self.status == SUCCESS:
            return
        where = url(self.run_ids[0]) if len(self.run_ids) == 1 else None
        message = self.message if where is None or where in self.message else f"{self.message} ({where})"
        if self.status == TIMEOUT:
            raise TriggerWaitTimeoutError(
                message if "keeps going" in message else f"{message}; the run keeps going."
            )
        if self.status == ERROR:
            raise TriggerWaitError(message)
        raise_for_failed_runs(self, url)


def raise_for_failed_runs(result: WaitResult, url: Callable[[str], str]) -> None:
    """One failed run: its status and message. Several: each named. CANCELED anywhere: no retries."""
    failed = result.failed or result.run_ids
    lines = []
    for run_id in failed:
        status = str(result.statuses.get(run_id))
        run = result.runs.get(run_id)
        message = error_message(run) if run is not None else result.message
        lines.append((run_id, status, message))
    if len(result.run_ids) == 1:
        run_id, status, message = lines[0]
        text = failure_text(run_id, status, message, url(run_id))
    else:
        where = f" of batch {result.batch_id}" if result.batch_id else ""
        text = f"{len(failed)} of {len(result.run_ids)} Trigger.dev runs{where} failed:\n" + "\n".join(
            f"  {run_id} {status}: {message} ({url(run_id)})" for run_id, status, message in lines
        )
    canceled = [run_id for run_id, status, _ in lines if status == CANCELED]
    if canceled:
        raise TriggerRunCanceledError(text, run_id=canceled[0])
    raise TriggerRunFailedError(text, run_id=lines[0][0], status=lines[0][1])


def fits_in_event(output: Any) -> bool:
    try:
        return len(json.dumps(output, default=str)) <= MAX_EVENT_OUTPUT_BYTES
    except (TypeError, ValueError):
        return False
