"""What the Trigger.dev operators share: the connection id, a lazily built hook, argument checks,
the default idempotency key, outlet extras, and the wait (worker or deferred) through the engine."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, Asset, BaseOperator

from airflow_provider_trigger._compat import warn_no_trigger_on_kill
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST
from airflow_provider_trigger.triggers.engine.lifecycle import cancel_if_stopped, clear_generation
from airflow_provider_trigger.triggers.engine.logs import LogSettings, RunLogPrinter
from airflow_provider_trigger.triggers.engine.realtime import check_wait_mode
from airflow_provider_trigger.triggers.engine.result import SUCCESS, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import RunSet, RunWatch
from airflow_provider_trigger.triggers.engine.worker import wait_in_worker
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger, TriggerRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger

DEFER_GRACE = 60.0
"""Airflow's own deferral timeout trails the wait's deadline by this much: the trigger reports the
timeout itself, and Airflow's backstop still fails the task if no triggerer ever runs the wait."""


class TriggerBaseOperator(BaseOperator):
    """Holds ``trigger_conn_id``; the hook (and so the connection) is resolved on first use, never in
    ``__init__``, which also runs at DAG parse time."""

    def __init__(self, *, trigger_conn_id: str = TriggerHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_conn_id = trigger_conn_id

    @cached_property
    def hook(self) -> TriggerHook:
        return TriggerHook(trigger_conn_id=self.trigger_conn_id)


class RunWaitingOperator(TriggerBaseOperator):
    """Shared by every operator that may wait for runs (task, batch, replay): the wait settings,
    checked at DAG parse time, and the wait itself through the engine (worker or deferred).

    The runs' own log lines go to the task log when the wait ends: a run that failed, up to
    ``log_lines_on_failure`` lines with its error and stack trace; a single run that succeeded, its
    last ``log_lines_on_success`` (0 turns either off). ``stream_logs=True`` prints them while waiting
    in the worker too (one extra request per poll), each line once."""

    def __init__(
        self,
        *,
        wait_for_completion: bool,
        poll_interval: float,
        timeout: float | timedelta | None,
        deferrable: bool,
        cancel_on_kill: bool,
        wait_mode: str,
        stream_logs: bool = False,
        log_lines_on_success: int = 20,
        log_lines_on_failure: int = 500,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_mode = check_wait_mode(wait_mode)
        self.run_logs = LogSettings(stream_logs, log_lines_on_success, log_lines_on_failure)
        self.feed_tag: str | None = None
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.wait_for_completion = wait_for_completion
        self.poll_interval = float(poll_interval)
        self.timeout = seconds(timeout, "timeout")
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill
        self._ti: Any = None
        self._waiting: list[str] = []

    def _run_set(self, run_ids: list[str], **statuses: Any) -> RunSet:
        environment = self.hook.environment
        return RunSet(
            RunWatch(r, url=self.hook.run_url(r), log=self.log, environment=environment, **statuses)
            for r in run_ids
        )

    def wait_for(
        self, context: Context, run_ids: list[str], *, batch_id: str | None = None, **statuses: Any
    ) -> WaitResult:
        """Wait for the runs here, or defer to the triggerer (``execute_complete`` resumes)."""
        self.watching(context, run_ids)
        runs = self._run_set(run_ids, **statuses)
        deadline = None if self.timeout is None else time.time() + self.timeout
        what = f"batch {batch_id}" if batch_id else f"run {run_ids[0]}"
        if self.deferrable:
            try:  # one look first: a run that already finished needs no triggerer
                for run_id in run_ids:
                    runs.observe(self.hook.runs.retrieve(run_id, request_options=READ_REQUEST))
            except Exception as exc:
                self.log.info("Deferring without a first look at %s: %s", what, exc)
            if runs.done:
                return self._with_logs(WaitResult.finished(runs, batch_id))
            common: dict[str, Any] = {
                "trigger_conn_id": self.trigger_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": deadline,
                "cancel_on_kill": self.cancel_on_kill,
                "wait_mode": self.wait_mode,
                "feed_tag": self.feed_tag,
            }
            trigger: TriggerRunTrigger | TriggerBatchTrigger = (
                TriggerRunTrigger(run_ids[0], run_url=self.hook.run_url(run_ids[0]), **common, **statuses)
                if batch_id is None and len(run_ids) == 1
                else TriggerBatchTrigger(run_ids, batch_id=batch_id, **common)
            )
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                timeout=None if self.timeout is None else timedelta(seconds=self.timeout + DEFER_GRACE),
            )
        printer = self._log_printer()
        result = wait_in_worker(
            self.hook.client,
            runs,
            poll_interval=self.poll_interval,
            deadline=deadline,
            wait_mode=self.wait_mode,
            log=self.log,
            what=what,
            batch_id=batch_id,
            on_poll=printer.poll if self.run_logs.stream else None,
        )
        return self._with_logs(result, printer)

    def _log_printer(self) -> RunLogPrinter:
        return RunLogPrinter(self.hook.runs.logs, self.log, self.run_logs, url=self.hook.run_url)

    def _with_logs(self, result: WaitResult, printer: RunLogPrinter | None = None) -> WaitResult:
        """Print the runs' log lines the wait has not printed (see ``triggers/engine/logs.py``)."""
        (printer or self._log_printer()).finish(result)
        return result

    def resumed(self, context: Context, event: Any) -> WaitResult:
        """The result a trigger's event carries, with the snapshots it leaves out fetched once."""
        self._ti = context["ti"]
        result = WaitResult.from_event(event, f"task {self.task_id}")
        if result.status == SUCCESS:  # outputs too large for the event
            for run_id in result.run_ids:
                if run_id not in result.outputs:
                    result.outputs[run_id] = self.hook.runs.retrieve(run_id).output
        elif result.failed and len(result.run_ids) > 1:  # each failed run's own error message
            for run_id in result.failed:
                try:
                    result.runs[run_id] = self.hook.runs.retrieve(run_id)
                except Exception as exc:
                    self.log.warning("Could not read failed run %s: %s", run_id, exc)
        return self._with_logs(result)

    def watching(self, context: Context, run_ids: list[str]) -> None:
        """From now on ``on_kill`` may cancel these runs (if a person stops the task)."""
        self._ti = context["ti"]
        self._waiting = list(run_ids)

    def on_kill(self) -> None:
        """Cancel the runs being waited for, only when a person stopped the task (marked it failed or
        success, or cleared it); a SIGTERM from an eviction or a deploy leaves them running."""
        if self.cancel_on_kill and self._waiting:
            cancel_if_stopped(self.hook.runs, self._ti, list(self._waiting), self.log)

    def wait_over(self) -> None:
        """Nothing is waited for any more: ``on_kill`` has nothing to cancel."""
        self._waiting = []

    def defer(
        self,
        *,
        trigger: BaseTrigger,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | float | None = None,
    ) -> NoReturn:
        if self.cancel_on_kill:  # below Airflow 3.3 a kill while deferred cannot reach the trigger
            warn_no_trigger_on_kill(self.log, "the run")
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)


class TaskRunsOperator(RunWaitingOperator):
    """Shared by the operators that start runs of one task (task, batch): the task id and the
    idempotency key, whose default gains the clear generation (a clear does the work again)."""

    def __init__(
        self,
        *,
        task_identifier: str,
        idempotency_key: str | None,
        idempotency_key_ttl: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if task_identifier == "":
            check_task_identifier(task_identifier)
        self.task_identifier = task_identifier
        self.idempotency_key = idempotency_key
        self.idempotency_key_ttl = idempotency_key_ttl
        self._default_key = idempotency_key == DEFAULT_IDEMPOTENCY_KEY

    def idempotency_key_for(self, context: Context) -> str | None:
        """The rendered key; the default one gains ``/clear-<n>`` once the task was cleared."""
        key = self.idempotency_key
        if key is None or not self._default_key:
            return key
        generation = clear_generation(context)
        return key if generation == 1 else f"{key}/clear-{generation}"


DEFAULT_IDEMPOTENCY_KEY = "airflow/{{ ti.dag_id }}/{{ ti.task_id }}/{{ ti.run_id }}/{{ ti.map_index }}"
"""Default key: one per DAG run, task and map index (not per try), so Airflow retries re-attach; a
clear adds ``/clear-<n>`` (see :func:`idempotency_key_for`), so clearing a task does the work again."""


def seconds(value: float | timedelta | None, name: str) -> float | None:
    """A duration in seconds; rejects negative values with a message naming the argument."""
    if value is None:
        return None
    result = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if result < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {result:g}")
    return result


def check_json(value: Any, name: str) -> None:
    """Fail before any request when ``value`` cannot be sent as JSON."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be JSON-serialisable: {exc}") from exc


def check_task_identifier(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"task_identifier must be a non-empty string (the task's id in Trigger.dev), got {value!r}"
        )


def attach_to_outlets(operator: BaseOperator, context: Context, extra: dict[str, Any]) -> None:
    """Merge ``extra`` into the asset event of each ``Asset`` outlet (sent when the task succeeds)."""
    assets = [outlet for outlet in operator.outlets if isinstance(outlet, Asset)]
    if assets and (events := context.get("outlet_events")) is not None:
        for asset in assets:
            events[asset].extra.update(extra)


def task_not_found(task_identifier: str, hook: TriggerHook) -> AirflowException:
    return AirflowException(
        f"Trigger.dev task {task_identifier!r} was not found in the {hook.environment} environment of "
        f"connection {hook.trigger_conn_id!r}: check the task id and that a version with it is deployed"
    )
