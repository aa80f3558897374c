"""Wait in Airflow for a Trigger.dev run to reach a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    conf,
)

from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.sensors._base import TriggerBaseSensor
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident
from airflow_provider_trigger.triggers.engine.logs import LogSettings, RunLogPrinter
from airflow_provider_trigger.triggers.engine.realtime import check_wait_mode
from airflow_provider_trigger.triggers.engine.result import ERROR, FAILED, SUCCESS, TIMEOUT, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import (
    TERMINAL,
    RunSet,
    RunWatch,
    check_statuses,
    error_message,
    failure_text,
)
from airflow_provider_trigger.triggers.engine.worker import wait_in_worker
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class TriggerRunSensor(TriggerBaseSensor):
    """Wait until a Trigger.dev run reaches one of ``target_statuses``; its output becomes the XCom value.

    A run in one of ``failure_statuses`` (by default every terminal status that is not a target) fails
    the sensor at once, without retries. A timeout raises Airflow's sensor timeout, so ``soft_fail``
    turns it into a skip, in poke, reschedule and deferrable modes alike; ``soft_fail`` never skips on
    an infrastructure error (:class:`~airflow_provider_trigger.exceptions.TriggerWaitError`). API
    incidents are waited out until the timeout. Statuses unknown to this provider keep it waiting.

    :param run_id: the ``run_…`` id to watch. Templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='trigger', key='run_id') }}"``.
    :param target_statuses: statuses that satisfy the sensor.
    :param failure_statuses: statuses that fail it; default: the terminal statuses not in the targets.
    :param deferrable: wait in the triggerer (the sensor's ``timeout`` travels with the deferral).
    :param wait_mode: ``"realtime"`` (default): in ``poke`` mode and when deferred, follow the run over
        the realtime API, falling back to polling by itself (PAT, 429, repeated errors); ``"poll"``:
        check every ``poke_interval``. ``reschedule`` mode always polls.
    :param stream_logs: print the run's log lines to the task log while waiting in the worker (poke
        mode; one extra request per poke), each line once. Whatever this says, when the sensor ends
        the run's lines not printed yet follow: up to ``log_lines_on_failure`` (default 500) with its
        error and stack trace if it failed, the last ``log_lines_on_success`` (default 20) if not.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    """

    template_fields: Sequence[str] = ("run_id", "trigger_conn_id")
    ui_color = "#c8f7c5"

    def __init__(
        self,
        *,
        run_id: str,
        target_statuses: Sequence[str] = ("COMPLETED",),
        failure_statuses: Sequence[str] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        trigger_conn_id: str = TriggerHook.default_conn_name,
        wait_mode: str = "realtime",
        stream_logs: bool = False,
        log_lines_on_success: int = 20,
        log_lines_on_failure: int = 500,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_mode = check_wait_mode(wait_mode)
        self.run_logs = LogSettings(stream_logs, log_lines_on_success, log_lines_on_failure)
        if isinstance(target_statuses, str) or isinstance(failure_statuses, str):
            raise ValueError("target_statuses and failure_statuses take a list of statuses, not one string")
        target = {str(s).upper() for s in target_statuses}
        failures = TERMINAL - target if failure_statuses is None else failure_statuses
        self.target_statuses, self.failure_statuses = check_statuses(target, failures)
        self.run_id = run_id
        self.deferrable = deferrable
        self.trigger_conn_id = trigger_conn_id

    @cached_property
    def hook(self) -> TriggerHook:
        return TriggerHook(trigger_conn_id=self.trigger_conn_id)

    @cached_property
    def _watch(self) -> RunWatch:
        return RunWatch(
            self.run_id,
            url=self.hook.run_url(self.run_id),
            log=self.log,
            target_statuses=self.target_statuses,
            failure_statuses=self.failure_statuses,
            environment=self.hook.environment,
        )

    @cached_property
    def _printer(self) -> RunLogPrinter:
        return RunLogPrinter(self.hook.runs.logs, self.log, self.run_logs, url=self.hook.run_url)

    def _print_logs(self, status: str) -> None:
        """The run's log lines once its verdict is known (``failed``: with its error)."""
        failed = [self.run_id] if status == FAILED else []
        self._printer.finish(WaitResult(status, [self.run_id], "", failed=failed))

    @cached_property
    def _incident(self) -> Incident:
        return Incident(f"run {self.run_id}", self.log)

    def _check_run_id(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id.startswith("run_"):
            raise ValueError(f"run_id must be a Trigger.dev run id starting with 'run_', got {self.run_id!r}")

    def _failed(self, status: str | None, message: str) -> AirflowFailException:
        return AirflowFailException(failure_text(self.run_id, str(status), message, self._watch.url))

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One look; an API incident is a "not yet" (logged once), a permanent error fails the task."""
        self._check_run_id()
        try:
            run = self.hook.runs.retrieve(self.run_id, request_options=READ_REQUEST)
        except Exception as exc:
            self._incident.failed(exc, self.poke_interval)  # raises when permanent
            return False
        self._incident.recovered()
        outcome = self._watch.outcome(run)
        if outcome == "failed":
            self._print_logs(FAILED)
            raise self._failed(self._watch.last_status, error_message(run))
        if outcome == "success":
            self._print_logs(SUCCESS)
            return PokeReturnValue(is_done=True, xcom_value=run.output)
        if self.run_logs.stream and self.mode == "poke":  # a rescheduled poke would print them again
            self._printer.poll([self.run_id])
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            if self.wait_mode == "realtime" and self.mode == "poke":
                self._check_run_id()
                return self._verdict(self._wait_in_worker())
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowFailException as exc:  # as BaseSensorOperator.execute treats a failing poke
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise
        if isinstance(done, PokeReturnValue):
            return done.xcom_value
        self.defer(
            trigger=TriggerRunTrigger(
                self.run_id,
                trigger_conn_id=self.trigger_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                target_statuses=sorted(self.target_statuses),
                failure_statuses=sorted(self.failure_statuses),
                cancel_on_kill=False,
                run_url=self._watch.url,
                wait_mode=self.wait_mode,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def _wait_in_worker(self) -> WaitResult:
        result = wait_in_worker(
            self.hook.client,
            RunSet([self._watch]),
            poll_interval=self.poke_interval,
            deadline=time.time() + self.timeout,
            wait_mode="realtime",
            log=self.log,
            what=f"run {self.run_id}",
            on_poll=self._printer.poll if self.run_logs.stream else None,
        )
        self._printer.finish(result)
        return result

    def _verdict(self, result: WaitResult) -> Any:
        """The output, or the error a sensor raises (``soft_fail`` skips timeouts and failed runs)."""
        if result.status == SUCCESS:
            if self.run_id in result.outputs:
                return result.outputs[self.run_id]
            return self.hook.runs.retrieve(self.run_id).output
        if result.status == ERROR:
            raise TriggerWaitError(result.message)
        if result.status == TIMEOUT:
            error: Exception = AirflowSensorTimeout(f"Sensor has timed out: {result.message}")
        else:
            error = self._failed(result.statuses.get(self.run_id), result.message)
        if self.soft_fail or getattr(self, "never_fail", False):
            raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
        raise error

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: the output, or the error the wait ended in."""
        result = WaitResult.from_event(event, f"run {self.run_id}")
        self._printer.finish(result)
        if result.status == FAILED:
            raise self._failed(result.statuses.get(self.run_id), result.message)
        if result.status == TIMEOUT:
            raise AirflowSensorTimeout(f"Sensor has timed out: {result.message}")
        return self._verdict(result)
