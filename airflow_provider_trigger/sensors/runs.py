"""Wait in Airflow for a Trigger.dev run to reach a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_trigger._compat import SoftFailOnDeferralTimeout
from airflow_provider_trigger.client import NotFoundError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.triggers._wait import (
    TERMINAL,
    RunWatch,
    TriggerWaitTimeoutError,
    check_statuses,
    check_wait_mode,
    error_message,
    failure_text,
    run_output,
    status_name,
    wait_for_run_realtime,
)
from airflow_provider_trigger.triggers.runs import EVENT_STATUSES, TriggerRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_trigger.client import Run


class TriggerRunSensor(SoftFailOnDeferralTimeout, BaseSensorOperator):
    """Wait until a Trigger.dev run reaches one of ``target_statuses``; its output becomes the XCom value.

    A run in one of ``failure_statuses`` (by default every terminal status that is not a target) fails
    the sensor at once, without retries. A timeout raises Airflow's sensor timeout, so ``soft_fail``
    turns it into a skip, in poke, reschedule and deferrable modes alike. Statuses unknown to this
    provider (a newer server) keep the sensor waiting, with one warning.

    :param run_id: the ``run_…`` id to watch. Templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='trigger', key='run_id') }}"``.
    :param target_statuses: statuses that satisfy the sensor.
    :param failure_statuses: statuses that fail it; default: the terminal statuses not in the targets.
    :param deferrable: wait in the triggerer (the sensor's ``timeout`` travels with the deferral).
    :param wait_mode: ``"realtime"`` (default): in ``poke`` mode and when deferred, follow the run over
        the realtime API, falling back to polling by itself (PAT, 429, repeated errors); ``"poll"``:
        check every ``poke_interval``. ``reschedule`` mode always polls.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_mode = check_wait_mode(wait_mode)
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
        )

    def _check_run_id(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id.startswith("run_"):
            raise ValueError(f"run_id must be a Trigger.dev run id starting with 'run_', got {self.run_id!r}")

    def _retrieve(self) -> Run:
        try:
            return self.hook.runs.retrieve(self.run_id)
        except NotFoundError as exc:
            raise AirflowFailException(
                f"Trigger.dev run {self.run_id} was not found in this environment (404); check the run id "
                f"and that connection {self.trigger_conn_id!r} uses the environment the run belongs to."
            ) from exc

    def poke(self, context: Context) -> bool | PokeReturnValue:
        self._check_run_id()
        run = self._retrieve()
        outcome = self._watch.outcome(run)
        if outcome == "failed":
            raise AirflowFailException(
                failure_text(self.run_id, status_name(run), error_message(run), self._watch.progress.url)
            )
        if outcome == "success":
            return PokeReturnValue(is_done=True, xcom_value=run_output(run))
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            if self.wait_mode == "realtime" and self.mode == "poke":
                self._check_run_id()
                found, output = self._wait_realtime()
                if found:
                    return output
            return super().execute(context)
        started = time.time()
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
                end_time=started + self.timeout,
                target_statuses=sorted(self.target_statuses),
                failure_statuses=sorted(self.failure_statuses),
                cancel_on_kill=False,
                run_url=self._watch.progress.url,
                wait_mode=self.wait_mode,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def _wait_realtime(self) -> tuple[bool, Any]:
        """``(True, output)`` once the run reached a target status over the realtime feed;
        ``(False, None)`` when the sensor must poke instead. Failures and timeouts raise as pokes do."""
        try:
            done = wait_for_run_realtime(self.hook.client, self._watch, timeout=self.timeout, log=self.log)
        except TriggerWaitTimeoutError as exc:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise AirflowSensorTimeout(f"Sensor has timed out: {exc}") from exc
        if done is None:
            return False, None
        outcome, run = done
        if outcome == "failed":
            text = failure_text(self.run_id, status_name(run), error_message(run), self._watch.progress.url)
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping due to soft_fail: {text}")
            raise AirflowFailException(text)
        return True, run_output(run)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: validate its event, then return the output or fail."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
            raise AirflowException(f"Unexpected event from the Trigger.dev wait trigger: {event!r}")
        status, message = event["status"], str(event.get("message") or "")
        url = self.hook.run_url(self.run_id)
        if status == "success":
            if "output" in event:
                return event["output"]
            return run_output(self.hook.runs.retrieve(self.run_id))
        if status == "failed":
            raise AirflowFailException(failure_text(self.run_id, str(event.get("run_status")), message, url))
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message} ({url})")
        raise AirflowException(f"Waiting for Trigger.dev run {self.run_id} failed: {message} ({url})")
