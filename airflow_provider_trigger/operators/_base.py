"""What the Trigger.dev operators share: the connection id, a lazily built hook, argument checks,
the default idempotency key, outlet extras and the bounded cancel used by ``on_kill``."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, Asset, BaseOperator

from airflow_provider_trigger._compat import warn_no_trigger_on_kill
from airflow_provider_trigger.client import RequestOptions, RetryOptions
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.triggers._wait import check_wait_mode

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger


class TriggerBaseOperator(BaseOperator):
    """Holds ``trigger_conn_id``; the hook (and so the connection) is resolved on first use, never in
    ``__init__``, which also runs at DAG parse time."""

    def __init__(self, *, trigger_conn_id: str = TriggerHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_conn_id = trigger_conn_id

    @cached_property
    def hook(self) -> TriggerHook:
        return TriggerHook(trigger_conn_id=self.trigger_conn_id)


class TaskRunsOperator(TriggerBaseOperator):
    """Shared by the operators that start runs of one task and may wait for them (task, batch):
    the task id, the idempotency key and the wait settings, checked at DAG parse time."""

    def __init__(
        self,
        *,
        task_identifier: str,
        idempotency_key: str | None,
        idempotency_key_ttl: str | None,
        wait_for_completion: bool,
        poll_interval: float,
        timeout: float | timedelta | None,
        deferrable: bool,
        cancel_on_kill: bool,
        wait_mode: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_mode = check_wait_mode(wait_mode)
        self.feed_tag: str | None = None
        if task_identifier == "":
            check_task_identifier(task_identifier)
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.task_identifier = task_identifier
        self.idempotency_key = idempotency_key
        self.idempotency_key_ttl = idempotency_key_ttl
        self.wait_for_completion = wait_for_completion
        self.poll_interval = float(poll_interval)
        self.timeout = seconds(timeout, "timeout")
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill

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


CANCEL_REQUEST = RequestOptions(retry=RetryOptions(max_attempts=2, max_timeout=2.0), timeout=10.0)
"""``on_kill`` cancels within about 20 s at worst: two attempts of at most 10 s each."""
DEFAULT_IDEMPOTENCY_KEY = "airflow/{{ ti.dag_id }}/{{ ti.task_id }}/{{ ti.run_id }}/{{ ti.map_index }}"
"""Default key: one per DAG run, task and map index (not per try), so Airflow retries re-attach."""


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


def cancel_run(hook: TriggerHook, run_id: str, log: Any) -> None:
    """Cancel one run, bounded in time (no retries beyond one); errors are logged, never raised."""
    try:
        hook.runs.cancel(run_id, request_options=CANCEL_REQUEST)
        log.info("Canceled Trigger.dev run %s because the task was killed", run_id)
    except Exception as exc:
        log.warning("Could not cancel Trigger.dev run %s: %s", run_id, exc)
