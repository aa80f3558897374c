"""Trigger many runs of one Trigger.dev task in a single batch request, and optionally wait for all."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, conf

from airflow_provider_trigger.client import NotFoundError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.operators._base import (
    DEFAULT_IDEMPOTENCY_KEY,
    TaskRunsOperator,
    attach_to_outlets,
    cancel_run,
    check_json,
    check_task_identifier,
    task_not_found,
)
from airflow_provider_trigger.operators._xcom import check_xcom_size
from airflow_provider_trigger.triggers._wait import (
    SUCCESS,
    RunWatch,
    TriggerRunFailedError,
    TriggerWaitTimeoutError,
    dag_run_tag,
    error_message,
    run_output,
    status_name,
    wait_for_batch_realtime,
    wait_for_runs,
    with_tag,
)
from airflow_provider_trigger.triggers.events import small_output
from airflow_provider_trigger.triggers.runs import EVENT_STATUSES, TriggerBatchTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_trigger.client import Run

MAX_BATCH_ITEMS = 1000
RUN_IDS_TIMEOUT = 60.0
"""Seconds to wait for the server to create every run of a new batch."""


class TriggerBatchOperator(TaskRunsOperator):
    """Trigger one Trigger.dev task once per payload, in one batch request; optionally wait for every run.

    Returns ``{"batch_id", "run_ids"}`` (run ids in payload order), plus ``"outputs"`` (in the same
    order) when waiting. Any failed run fails the task, naming each failed run.

    Retry-safe like :class:`~airflow_provider_trigger.operators.tasks.TriggerTaskOperator`: item *i*
    gets the idempotency key ``<idempotency_key>/<i>``, so an Airflow retry re-attaches to the runs
    still going or completed and starts new runs only for the items whose runs failed.

    :param task_identifier: the Trigger.dev task id. Templated.
    :param payloads: one JSON payload per run (at most 1,000). Templated.
    :param options: trigger options applied to every item, snake_case (``tags``, ``queue``, ``ttl``…).
    :param idempotency_key: base key (default: DAG id, task id, DAG run id, map index), ``None`` to disable.
    :param idempotency_key_ttl: how long the keys hold, e.g. ``"1h"``.
    :param wait_for_completion, poll_interval, timeout, deferrable, cancel_on_kill, trigger_conn_id,
        wait_mode: as for ``TriggerTaskOperator`` (realtime waits follow the batch's feed, or in the
        triggerer the DAG run's tag feed).
    """

    template_fields: Sequence[str] = (
        "task_identifier",
        "payloads",
        "options",
        "idempotency_key",
        "idempotency_key_ttl",
        "trigger_conn_id",
    )
    template_fields_renderers = {"payloads": "json", "options": "json"}
    ui_color = "#c8f7c5"

    def __init__(
        self,
        *,
        task_identifier: str,
        payloads: Sequence[Any],
        options: dict[str, Any] | None = None,
        idempotency_key: str | None = DEFAULT_IDEMPOTENCY_KEY,
        idempotency_key_ttl: str | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = True,
        trigger_conn_id: str = TriggerHook.default_conn_name,
        wait_mode: str = "realtime",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            task_identifier=task_identifier,
            idempotency_key=idempotency_key,
            idempotency_key_ttl=idempotency_key_ttl,
            wait_for_completion=wait_for_completion,
            poll_interval=poll_interval,
            timeout=timeout,
            deferrable=deferrable,
            cancel_on_kill=cancel_on_kill,
            wait_mode=wait_mode,
            trigger_conn_id=trigger_conn_id,
            **kwargs,
        )
        self.payloads = payloads
        self.options = options
        self.run_ids: list[str] = []
        self._finished = False

    def _items(self) -> list[dict[str, Any]]:
        check_task_identifier(self.task_identifier)
        if isinstance(self.payloads, (str, bytes, dict)) or not isinstance(self.payloads, Sequence):
            raise ValueError(f"payloads must be a list of payloads, got {type(self.payloads).__name__}")
        if not 0 < len(self.payloads) <= MAX_BATCH_ITEMS:
            raise ValueError(f"payloads must hold 1 to {MAX_BATCH_ITEMS} payloads, got {len(self.payloads)}")
        check_json(self.options, "options")
        if self.idempotency_key is not None and not str(self.idempotency_key).strip():
            raise ValueError("idempotency_key rendered to an empty string; pass None to disable it")
        items = []
        for index, payload in enumerate(self.payloads):
            check_json(payload, f"payloads[{index}]")
            options = {k: v for k, v in (self.options or {}).items() if v is not None}
            if self.idempotency_key is not None:
                options["idempotency_key"] = f"{self.idempotency_key}/{index}"
                if self.idempotency_key_ttl is not None:
                    options["idempotency_key_ttl"] = self.idempotency_key_ttl
            items.append({"payload": payload, "options": options})
        return items

    def _tag_for_feed(self, context: Context, items: list[dict[str, Any]]) -> str | None:
        """For a deferred realtime wait, tag every run with its DAG run (the triggerer's feed key)."""
        if self.wait_mode != "realtime" or not (self.deferrable and self.wait_for_completion):
            return None
        tag = dag_run_tag(context["ti"].dag_id, context["ti"].run_id)
        tagged = [with_tag(item["options"].get("tags"), tag) for item in items]
        if any(tags is None for tags in tagged):
            return None  # some item already has 10 tags: the trigger follows the batch feed
        for item, tags in zip(items, tagged, strict=True):
            item["options"]["tags"] = tags
        return tag

    def execute(self, context: Context) -> Any:
        items = self._items()
        self.feed_tag = self._tag_for_feed(context, items)
        try:
            batch = self.hook.tasks.batch_trigger(self.task_identifier, items)
        except NotFoundError as exc:
            raise task_not_found(self.task_identifier, self.hook) from exc
        batch_id, self.run_ids = batch.id, self._all_run_ids(batch.id, list(batch.run_ids), len(items))
        context["ti"].xcom_push(key="batch_id", value=batch_id)
        context["ti"].xcom_push(key="run_ids", value=self.run_ids)
        self.log.info(
            "Triggered %d runs of %s in batch %s", len(self.run_ids), self.task_identifier, batch_id
        )
        for run_id in self.run_ids:
            self.log.info("  run %s: %s", run_id, self.hook.run_url(run_id))
        result: dict[str, Any] = {"batch_id": batch_id, "run_ids": self.run_ids}
        if not self.wait_for_completion:
            self._finished = True
            return result
        if self.deferrable:
            self.defer(
                trigger=TriggerBatchTrigger(
                    self.run_ids,
                    batch_id=batch_id,
                    trigger_conn_id=self.trigger_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=None if self.timeout is None else time.time() + self.timeout,
                    cancel_on_kill=self.cancel_on_kill,
                    wait_mode=self.wait_mode,
                    feed_tag=self.feed_tag,
                ),
                method_name="execute_complete",
            )
        watches = [RunWatch(r, url=self.hook.run_url(r), log=self.log) for r in self.run_ids]
        started = time.monotonic()
        done = None
        if self.wait_mode == "realtime":
            done = wait_for_batch_realtime(
                self.hook.client, batch_id, watches, timeout=self.timeout, log=self.log
            )
        if done is None:
            left = None if self.timeout is None else max(0.0, self.timeout - (time.monotonic() - started))
            done = wait_for_runs(
                self.hook.runs.retrieve, watches, poll_interval=self.poll_interval, timeout=left
            )
        self._finished = True
        return self._succeeded(
            context, self._result(batch_id, {run_id: run for run_id, (_, run) in done.items()})
        )

    def _all_run_ids(self, batch_id: str, run_ids: list[str], expected: int) -> list[str]:
        """The batch's run ids, waiting (bounded) while the server is still creating its runs."""
        deadline = time.monotonic() + RUN_IDS_TIMEOUT
        while len(run_ids) < expected:
            if time.monotonic() > deadline:
                raise AirflowException(
                    f"Batch {batch_id} holds {len(run_ids)} of {expected} runs after {RUN_IDS_TIMEOUT:g}s"
                )
            time.sleep(min(self.poll_interval, 1.0))
            run_ids = list(self.hook.batches.retrieve(batch_id).runs)
        return [str(r) for r in run_ids]

    def _result(self, batch_id: str | None, runs: dict[str, Run]) -> dict[str, Any]:
        """The outputs in payload order, or a failure naming every failed run."""
        failed = [run for run in runs.values() if status_name(run) not in SUCCESS]
        if failed:
            lines = [
                f"  {run.id} {status_name(run)}: {error_message(run)} ({self.hook.run_url(run.id)})"
                for run in failed
            ]
            raise TriggerRunFailedError(
                f"{len(failed)} of {len(runs)} Trigger.dev runs of batch {batch_id} failed:\n"
                + "\n".join(lines),
                run_id=failed[0].id,
                status=status_name(failed[0]),
            )
        return {
            "batch_id": batch_id,
            "run_ids": self.run_ids,
            "outputs": [run_output(runs[r]) for r in self.run_ids],
        }

    def _succeeded(self, context: Context, result: dict[str, Any]) -> dict[str, Any]:
        """Every run completed (worker or deferred path): asset outlets get the batch in their ``extra``."""
        check_xcom_size(
            result, what=f"outputs of Trigger.dev batch {result['batch_id']}", push=self.do_xcom_push
        )
        outputs = small_output(result["outputs"])
        attach_to_outlets(
            self,
            context,
            {
                "batch_id": result["batch_id"],
                "run_ids": list(result["run_ids"]),
                "task_identifier": self.task_identifier,
                "status": "COMPLETED",
                **(
                    {"outputs": outputs["output"]}
                    if "output" in outputs
                    else {"outputs_omitted": outputs["output_omitted"]}
                ),
            },
        )
        return result

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the batch trigger fired: validate its event, then fetch the outputs or fail."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES or "run_ids" not in event:
            raise AirflowException(f"Unexpected event from the Trigger.dev batch trigger: {event!r}")
        self.run_ids = [str(r) for r in event["run_ids"]]
        self._finished = True
        status, message = event["status"], str(event.get("message") or "")
        if status in ("success", "failed"):
            runs = {run_id: self.hook.runs.retrieve(run_id) for run_id in self.run_ids}
            return self._succeeded(context, self._result(event.get("batch_id"), runs))
        if status == "timeout":
            raise TriggerWaitTimeoutError(f"Batch {event.get('batch_id')}: {message}; the runs keep going.")
        raise AirflowException(f"Waiting for Trigger.dev batch {event.get('batch_id')} failed: {message}")

    def on_kill(self) -> None:
        """Cancel the batch's runs (best effort) when the task is killed while waiting."""
        if self.cancel_on_kill and not self._finished:
            for run_id in self.run_ids:
                cancel_run(self.hook, run_id, self.log)
