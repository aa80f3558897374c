"""Trigger many runs of one Trigger.dev task in a single batch request, and optionally wait for all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, conf

from airflow_provider_trigger.client import BatchProcessingTimeoutError, NotFoundError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.operators._base import (
    DEFAULT_IDEMPOTENCY_KEY,
    TaskRunsOperator,
    attach_to_outlets,
    check_json,
    check_task_identifier,
    task_not_found,
)
from airflow_provider_trigger.operators._xcom import check_xcom_size
from airflow_provider_trigger.triggers.engine.realtime import dag_run_tag, with_tag
from airflow_provider_trigger.triggers.engine.result import WaitResult
from airflow_provider_trigger.triggers.events import small_output

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

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
    :param stream_logs, log_lines_on_failure, log_lines_on_success: as for ``TriggerTaskOperator``;
        when the wait ends, each failed run's lines are printed (successful runs' only when streamed).
        Streaming reads one run per poll, in turn.
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

    def _items(self, key: str | None) -> list[dict[str, Any]]:
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
            if key is not None:
                options["idempotency_key"] = f"{key}/{index}"
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
        items = self._items(self.idempotency_key_for(context))
        self.feed_tag = self._tag_for_feed(context, items)
        try:
            batch = self.hook.tasks.batch_trigger(self.task_identifier, items)
        except NotFoundError as exc:
            raise task_not_found(self.task_identifier, self.hook) from exc
        batch_id, self.run_ids = batch.id, self._all_run_ids(batch.id, list(batch.run_ids), len(items))
        self.watching(context, self.run_ids)
        context["ti"].xcom_push(key="batch_id", value=batch_id)
        context["ti"].xcom_push(key="run_ids", value=self.run_ids)
        self.log.info(
            "Triggered %d runs of %s in batch %s", len(self.run_ids), self.task_identifier, batch_id
        )
        for run_id in self.run_ids:
            self.log.info("  run %s: %s", run_id, self.hook.run_url(run_id))
        if not self.wait_for_completion:
            return {"batch_id": batch_id, "run_ids": self.run_ids}
        result = self.wait_for(context, self.run_ids, batch_id=batch_id)
        return self._done(context, result)

    def _all_run_ids(self, batch_id: str, run_ids: list[str], expected: int) -> list[str]:
        """The batch's run ids in item order, once the server has processed its items (bounded wait)."""
        try:
            processed = self.hook.batches.wait_until_processed(
                batch_id, timeout=RUN_IDS_TIMEOUT, poll_interval=min(self.poll_interval, 1.0)
            )
        except BatchProcessingTimeoutError as exc:
            raise AirflowException(str(exc)) from exc
        if processed.failures or len(processed.run_ids) < expected:
            failed = "; ".join(f"item {f.index}: {f.error}" for f in processed.failures)
            raise AirflowException(
                f"Batch {batch_id} is {processed.status}: {len(processed.run_ids)} of {expected} items "
                f"became runs ({failed or 'no item errors reported'})"
            )
        return [str(r) for r in processed.run_ids]

    def _done(self, context: Context, result: WaitResult) -> dict[str, Any]:
        """The outputs in payload order, or a failure naming every failed run (worker or deferred)."""
        self.wait_over()
        result.raise_unless_success(self.hook.run_url)
        outputs = [result.outputs.get(r) for r in result.run_ids]
        done = {"batch_id": result.batch_id, "run_ids": result.run_ids, "outputs": outputs}
        small = small_output(outputs)
        check_xcom_size(done, what=f"outputs of Trigger.dev batch {result.batch_id}", push=self.do_xcom_push)
        attach_to_outlets(
            self,
            context,
            {
                "batch_id": result.batch_id,
                "run_ids": list(result.run_ids),
                "task_identifier": self.task_identifier,
                "status": "COMPLETED",
                **(
                    {"outputs": small["output"]}
                    if "output" in small
                    else {"outputs_omitted": small["output_omitted"]}
                ),
            },
        )
        return done

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the batch trigger fired: the outputs, or the error the wait ended in."""
        result = self.resumed(context, event)
        self.run_ids = result.run_ids
        return self._done(context, result)
