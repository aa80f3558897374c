"""Pause a DAG until a Trigger.dev waitpoint token is completed (by a run, or anyone holding it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    conf,
)

from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.sensors._base import TriggerBaseSensor
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident
from airflow_provider_trigger.triggers.engine.result import ERROR, SUCCESS
from airflow_provider_trigger.triggers.waitpoints import TokenResult, TriggerWaitpointTrigger, check_token_id

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class TriggerWaitpointSensor(TriggerBaseSensor):
    """Wait until a waitpoint token is completed; its completion data becomes the XCom value.

    A token that times out (its own ``timeout``) ends the wait as the sensor's own ``timeout`` does:
    Airflow's sensor timeout, so ``soft_fail`` turns it into a skip, in poke, reschedule and
    deferrable modes alike. API incidents are waited out until the timeout; a permanent error (a
    token that does not exist, a bad key) fails the task and is never skipped.

    :param token_id: the ``waitpoint_…`` id. Templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='create_token', key='token_id') }}"``.
    :param deferrable: wait in the triggerer (the sensor's ``timeout`` travels with the deferral).
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    """

    template_fields: Sequence[str] = ("token_id", "trigger_conn_id")
    ui_color = "#c8f7c5"

    def __init__(
        self,
        *,
        token_id: str,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        trigger_conn_id: str = TriggerHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token_id = token_id
        self.deferrable = deferrable
        self.trigger_conn_id = trigger_conn_id

    @cached_property
    def hook(self) -> TriggerHook:
        return TriggerHook(trigger_conn_id=self.trigger_conn_id)

    @cached_property
    def _incident(self) -> Incident:
        return Incident(f"waitpoint {self.token_id}", self.log)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One look; an API incident is a "not yet" (logged once), a permanent error fails the task."""
        check_token_id(self.token_id)
        try:
            token = self.hook.waitpoints.retrieve_token(self.token_id, request_options=READ_REQUEST)
        except Exception as exc:
            self._incident.failed(exc, self.poke_interval)  # raises when permanent
            return False
        self._incident.recovered()
        result = TokenResult.of(token)
        if result is None:
            return False
        if result.status == SUCCESS:
            self.log.info("%s", result.message)
            return PokeReturnValue(is_done=True, xcom_value=result.data)
        raise AirflowSensorTimeout(f"Sensor has timed out: {result.message}")

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowSensorTimeout as exc:  # as BaseSensorOperator.execute treats a poke's timeout
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise
        if isinstance(done, PokeReturnValue):
            return done.xcom_value
        self.defer(
            trigger=TriggerWaitpointTrigger(
                self.token_id,
                trigger_conn_id=self.trigger_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: the completion data, or the error the wait ended in."""
        result = TokenResult.from_event(event, f"waitpoint {self.token_id}")
        if result.status == SUCCESS:
            return result.data
        if result.status == ERROR:
            raise TriggerWaitError(result.message)
        raise AirflowSensorTimeout(f"Sensor has timed out: {result.message}")
