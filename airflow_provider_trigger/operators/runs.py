"""Manage existing Trigger.dev runs from a DAG: cancel, replay, reschedule, and bulk cancel/replay."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.providers.common.compat.sdk import AirflowException, conf

from airflow_provider_trigger.operators._base import RunWaitingOperator, TriggerBaseOperator, seconds
from airflow_provider_trigger.operators.links import RUN_ID_XCOM_KEY, RUN_URL_XCOM_KEY
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident
from airflow_provider_trigger.triggers.engine.statuses import status_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_trigger.client.resources._filters import RunFilter

MAX_BULK_RUN_IDS = 500
BULK_ACTIONS = ("cancel", "replay")
BULK_DONE = "COMPLETED"
BULK_ABORTED = "ABORTED"


class TriggerBulkActionError(AirflowException):
    """A bulk action was aborted or did not finish within the operator's timeout."""


def _require_run_id(run_id: str | None) -> str:
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id is required: a Trigger.dev run id such as 'run_1234'.")
    return run_id.strip()


class TriggerCancelRunOperator(TriggerBaseOperator):
    """Cancel a run (a no-op for a run that already finished). Returns the run id.

    :param run_id: the run to cancel (templated), e.g. ``"{{ ti.xcom_pull('trigger') }}"``.
    """

    template_fields: Sequence[str] = ("run_id", "trigger_conn_id")

    def __init__(self, *, run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id

    def execute(self, context: Context) -> str:
        run_id = _require_run_id(self.run_id)
        self.hook.runs.cancel(run_id)
        self.log.info("Canceled Trigger.dev run %s: %s", run_id, self.hook.run_url(run_id))
        return run_id


class TriggerReplayRunOperator(RunWaitingOperator):
    """Replay a run (same task, same payload) and return the new run's id.

    The new run's id and URL go to XCom (``run_id``, ``run_url``) at once. With ``wait_for_completion``
    it waits like ``TriggerTaskOperator`` (worker or ``deferrable``, realtime or polling, incidents
    waited out) and fails when the new run fails.

    :param run_id: the run to replay (templated).
    :param wait_for_completion: wait until the new run finishes; fail if it fails.
    :param poll_interval, timeout, deferrable, wait_mode, cancel_on_kill, stream_logs,
        log_lines_on_success, log_lines_on_failure: as for ``TriggerTaskOperator``.
    """

    template_fields: Sequence[str] = ("run_id", "trigger_conn_id")

    def __init__(
        self,
        *,
        run_id: str,
        wait_for_completion: bool = False,
        poll_interval: float = 5.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = True,
        wait_mode: str = "realtime",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            wait_for_completion=wait_for_completion,
            poll_interval=poll_interval,
            timeout=timeout,
            deferrable=deferrable,
            cancel_on_kill=cancel_on_kill,
            wait_mode=wait_mode,
            **kwargs,
        )
        self.run_id = run_id

    def execute(self, context: Context) -> str:
        run_id = _require_run_id(self.run_id)
        new_id = self.hook.runs.replay(run_id).id
        url = self.hook.run_url(new_id)
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=new_id)
        context["ti"].xcom_push(key=RUN_URL_XCOM_KEY, value=url)
        self.log.info("Replayed Trigger.dev run %s as %s: %s", run_id, new_id, url)
        if self.wait_for_completion:
            result = self.wait_for(context, [new_id])
            self.wait_over()
            result.raise_unless_success(self.hook.run_url)
        return new_id

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: the new run's id, or the error the wait ended in."""
        result = self.resumed(context, event)
        result.raise_unless_success(self.hook.run_url)
        return result.run_ids[0]


class TriggerRescheduleRunOperator(TriggerBaseOperator):
    """Move a DELAYED run to a new time. Returns ``{"id", "status", "delayed_until"}``.

    :param run_id: the delayed run (templated).
    :param delay: a duration such as ``"1h30m"`` or an ISO 8601 date (templated).
    """

    template_fields: Sequence[str] = ("run_id", "delay", "trigger_conn_id")

    def __init__(self, *, run_id: str, delay: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.delay = delay

    def execute(self, context: Context) -> dict[str, Any]:
        run_id = _require_run_id(self.run_id)
        if not isinstance(self.delay, str) or not self.delay.strip():
            raise ValueError("delay is required: a duration such as '1h30m' or an ISO 8601 date.")
        run = self.hook.runs.reschedule(run_id, delay=self.delay.strip())
        delayed_until = run.delayed_until
        result = {
            "id": run_id,
            "status": status_name(run),
            "delayed_until": delayed_until.isoformat() if delayed_until is not None else None,
        }
        self.log.info("Rescheduled Trigger.dev run %s to %s", run_id, result["delayed_until"])
        return result


class TriggerBulkActionOperator(TriggerBaseOperator):
    """Cancel or replay many runs at once, selected by a filter or by run ids.

    Returns the bulk action id; with ``wait_for_completion`` waits until the server has processed every
    run (``COMPLETED``) and returns ``{"id", "status", "counts"}``; an ``ABORTED`` action fails the task.

    :param action: ``"cancel"`` or ``"replay"``.
    :param filter: runs.list-style filter (templated), e.g. ``{"status": ["QUEUED"], "taskIdentifier": "x"}``.
    :param run_ids: explicit run ids (templated), at most 500. Give exactly one of ``filter``/``run_ids``.
    :param name: a label for the dashboard (≤ 255 characters).
    """

    template_fields: Sequence[str] = ("filter", "run_ids", "name", "trigger_conn_id")
    template_fields_renderers = {"filter": "json"}

    def __init__(
        self,
        *,
        action: Literal["cancel", "replay"],
        filter: Mapping[str, Any] | None = None,
        run_ids: Sequence[str] | None = None,
        name: str | None = None,
        wait_for_completion: bool = False,
        poll_interval: float = 5.0,
        timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.action = action
        self.filter = filter
        self.run_ids = run_ids
        self.name = name
        self.wait_for_completion = wait_for_completion
        self.poll_interval = float(poll_interval)
        self.timeout = seconds(timeout, "timeout")

    def _validate(self) -> None:
        if self.action not in BULK_ACTIONS:
            raise ValueError(f"action must be 'cancel' or 'replay', got {self.action!r}.")
        if (self.filter is None) == (self.run_ids is None):
            raise ValueError("Give exactly one of filter= or run_ids= to select the runs.")
        if self.filter is not None and not any(v not in (None, "", [], {}) for v in self.filter.values()):
            raise ValueError("filter must set at least one field (e.g. status or taskIdentifier).")
        if self.run_ids is not None:
            if isinstance(self.run_ids, str) or not self.run_ids:
                raise ValueError("run_ids must be a non-empty list of run ids.")
            if len(self.run_ids) > MAX_BULK_RUN_IDS:
                raise ValueError(f"run_ids holds {len(self.run_ids)} ids; the API takes at most 500.")
        if self.name is not None and len(self.name) > 255:
            raise ValueError("name must be at most 255 characters.")

    def execute(self, context: Context) -> str | dict[str, Any]:
        self._validate()
        start = self.hook.runs.bulk.cancel if self.action == "cancel" else self.hook.runs.bulk.replay
        bulk_id = start(
            filter=cast("RunFilter", dict(self.filter)) if self.filter is not None else None,
            run_ids=list(self.run_ids) if self.run_ids is not None else None,
            name=self.name or None,
        ).id
        self.log.info("Started bulk %s %s", self.action, bulk_id)
        if not self.wait_for_completion:
            return bulk_id
        return self._wait(bulk_id)

    def _wait(self, bulk_id: str) -> dict[str, Any]:
        """Poll the bulk action until the server is done; API incidents are waited out until the
        timeout, as every wait of this provider does (see ``triggers/engine/incidents.py``)."""
        deadline = None if self.timeout is None else time.time() + self.timeout
        incident = Incident(f"bulk {self.action} {bulk_id}", self.log)
        last_status = None
        while True:
            delay = self.poll_interval
            try:
                action = self.hook.runs.bulk.retrieve(bulk_id, request_options=READ_REQUEST)
            except Exception as exc:
                delay = incident.failed(exc, self.poll_interval)  # raises when permanent
            else:
                incident.recovered()
                status = str(action.status)
                if status != last_status:
                    self.log.info("Bulk action %s is %s", bulk_id, status)
                    last_status = status
                if status == BULK_ABORTED:
                    raise TriggerBulkActionError(f"Bulk {self.action} {bulk_id} was aborted.")
                if status == BULK_DONE:
                    counts = action.counts.model_dump() if action.counts is not None else {}
                    return {"id": bulk_id, "status": status, "counts": counts}
            if deadline is not None and time.time() + delay > deadline:
                raise TriggerBulkActionError(
                    f"Bulk {self.action} {bulk_id} still {last_status} after {self.timeout:g}s; "
                    "it keeps going."
                )
            time.sleep(delay)
