"""Trigger a Trigger.dev task from Airflow, wait for its run and hand its output downstream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    ResumableJobMixin,
    conf,
)

from airflow_provider_trigger.client import NotFoundError, RequestOptions, RetryOptions
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
from airflow_provider_trigger.operators.links import RUN_ID_XCOM_KEY, RUN_URL_XCOM_KEY, TriggerRunLink
from airflow_provider_trigger.triggers.engine.lifecycle import clear_generation
from airflow_provider_trigger.triggers.engine.realtime import dag_run_tag, with_tag
from airflow_provider_trigger.triggers.engine.statuses import FAILURE, SUCCESS, TERMINAL, status_name
from airflow_provider_trigger.triggers.events import small_output

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


LOOKUP_REQUEST = RequestOptions(retry=RetryOptions(max_attempts=2))
"""Looking up a stored run: a 404 is retried once (the API marks it retryable), then means it is gone."""
NOT_FOUND = "NOT_FOUND"
"""``get_job_status`` of a stored run that no longer exists: the mixin then triggers a new run."""
CLEARED = "CLEARED"
"""``get_job_status`` of a stored run started before the task was cleared: a new run follows."""


class TriggerTaskOperator(ResumableJobMixin, TaskRunsOperator):
    """Trigger a Trigger.dev task and, by default, wait for its run and return the run's output.

    The run id and dashboard URL go to XCom (keys ``run_id``, ``run_url``) as soon as the run exists.
    The return value is the run id, or with ``wait_for_completion`` the run's output (parsed JSON).

    Retries are safe: the default ``idempotency_key`` is derived from the DAG id, task id, DAG run id
    and map index (not the try number), so a retry after a worker crash or eviction re-attaches to the
    run it started, while a retry after the run failed starts a new one (the server clears failed runs'
    keys; a cached run that was canceled gets its key reset). **Clearing** the task does the work
    again: the default key gains ``/clear-<n>`` and a stored run from before the clear is not resumed.
    Your own (templated) key is used as given: while it holds (``idempotency_key_ttl``, 30 days by
    default) every try and clear re-attaches to its run. ``None`` starts a new run on every try.

    :param task_identifier: the Trigger.dev task id, e.g. ``"hello-world"``. Templated.
    :param payload: the task's JSON payload. Templated (rendered as JSON in the UI).
    :param idempotency_key: see above. Templated.
    :param idempotency_key_ttl: how long the key holds, e.g. ``"1h"`` (server default 30 days).
    :param trigger_queue: the Trigger.dev queue to run in (the API's ``queue`` option; Airflow's own
        ``queue`` argument still picks the Airflow worker queue).
    :param concurrency_key, delay, ttl, tags, max_attempts, max_duration, metadata, machine, version,
        priority, region, test: the trigger options of the Trigger.dev API (``max_duration`` bounds the
        run's compute time in Trigger.dev; ``timeout`` bounds the wait in Airflow).
    :param trigger_options: any further trigger option of the client, snake_case. Templated.
    :param wait_for_completion: wait for the run to finish and return its output.
    :param poll_interval: seconds between two status checks while waiting.
    :param timeout: stop waiting after this long (seconds or timedelta) and fail; the run keeps going and
        a retry re-attaches to it. ``None`` waits as long as the task may run.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param wait_mode: ``"realtime"`` (default) follows the run over the realtime API (deferred runs get
        a tag naming their DAG run, so the triggerer follows one feed per DAG run) and falls back to
        polling by itself (PAT, 429, repeated errors); ``"poll"`` checks every ``poll_interval``.
    :param cancel_on_kill: cancel the run when a person stops the task (marks it failed or success, or
        clears it), worker-side or deferred (3.3+); never on an eviction, a deploy or a triggerer hand-over.
    :param stream_logs: print the run's own log lines to the task log while waiting in the worker
        (one extra request per poll, or per realtime update at most once per ``poll_interval``), each
        line once. Whatever this says, when the wait ends (worker-side or in ``execute_complete``) the
        lines not printed yet follow under ``---- Trigger.dev run <id> logs ----``: up to
        ``log_lines_on_failure`` (default 500, errors with their stack traces always) if the run failed,
        the last ``log_lines_on_success`` (default 20) if it succeeded; 0 turns either off.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    :param durable: Airflow 3.3+ (``ResumableJobMixin``): keep the run id in the task state store
        before waiting, so a retry after a crash resumes that run; a stored run that completed is not
        run again, one that failed, is gone, or was started before a clear is triggered anew. Default:
        on, off with ``idempotency_key=None``; below Airflow 3.3 the idempotency key alone re-attaches.

    With ``outlets=[Asset(...)]`` the asset event's ``extra`` carries ``run_id``, ``task_identifier``,
    ``status``, ``run_url`` and ``output`` (up to 4 KB of JSON, else ``output_omitted``).
    """

    template_fields: Sequence[str] = (
        "task_identifier",
        "payload",
        "idempotency_key",
        "idempotency_key_ttl",
        "trigger_queue",
        "concurrency_key",
        "delay",
        "ttl",
        "tags",
        "metadata",
        "machine",
        "version",
        "region",
        "trigger_options",
        "trigger_conn_id",
    )
    template_fields_renderers = {"payload": "json", "metadata": "json", "trigger_options": "json"}
    operator_extra_links = (TriggerRunLink(),)
    ui_color = "#c8f7c5"
    external_id_key = "trigger_run_id"
    """Task state store key of the run id (ResumableJobMixin); renaming it breaks in-flight retries."""

    def __init__(
        self,
        *,
        task_identifier: str,
        payload: Any = None,
        idempotency_key: str | None = DEFAULT_IDEMPOTENCY_KEY,
        idempotency_key_ttl: str | None = None,
        trigger_queue: str | None = None,
        concurrency_key: str | None = None,
        delay: str | datetime | None = None,
        ttl: str | int | None = None,
        tags: str | list[str] | None = None,
        max_attempts: int | None = None,
        max_duration: int | None = None,
        metadata: dict[str, Any] | None = None,
        machine: str | None = None,
        version: str | None = None,
        priority: int | None = None,
        region: str | None = None,
        test: bool | None = None,
        trigger_options: dict[str, Any] | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = True,
        trigger_conn_id: str = TriggerHook.default_conn_name,
        wait_mode: str = "realtime",
        durable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if durable is None and idempotency_key is None:
            durable = False  # None means a new run on every try: nothing to resume either
        if durable is not None:  # forwarded only when set, so default_args reach it on every version
            kwargs["durable"] = durable
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
        self.payload = payload
        self.trigger_queue = trigger_queue
        self.concurrency_key = concurrency_key
        self.delay = delay
        self.ttl = ttl
        self.tags = tags
        self.max_attempts = max_attempts
        self.max_duration = max_duration
        self.metadata = metadata
        self.machine = machine
        self.version = version
        self.priority = priority
        self.region = region
        self.test = test
        self.trigger_options = trigger_options
        self.run_id: str | None = None
        self._published: str | None = None
        self._result: Any = None
        self._finished = False

    # -- triggering -------------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        """The trigger options that are set, snake_case as the client takes them."""
        options = {
            "queue": self.trigger_queue,
            "concurrency_key": self.concurrency_key,
            "idempotency_key": self.idempotency_key,
            "idempotency_key_ttl": self.idempotency_key_ttl,
            "delay": self.delay,
            "ttl": self.ttl,
            "tags": self.tags,
            "max_attempts": self.max_attempts,
            "max_duration": self.max_duration,
            "metadata": self.metadata,
            "machine": self.machine,
            "version": self.version,
            "priority": self.priority,
            "region": self.region,
            "test": self.test,
            **(self.trigger_options or {}),
        }
        return {name: value for name, value in options.items() if value is not None}

    def _check_inputs(self) -> None:
        """Validate the rendered arguments before sending anything."""
        check_task_identifier(self.task_identifier)
        check_json(self.payload, "payload")
        check_json(self.metadata, "metadata")
        if self.idempotency_key is not None and not str(self.idempotency_key).strip():
            raise ValueError("idempotency_key rendered to an empty string; pass None to disable it")

    def trigger_run(self, context: Context) -> str:
        """Trigger the task (or re-attach to the run this task already started) and publish its id."""
        self._check_inputs()
        options = self._options()
        key = self.idempotency_key_for(context)
        if key is not None:
            options["idempotency_key"] = key
        self.feed_tag = self._tag_for_feed(context, options)
        try:
            result = self.hook.tasks.trigger(self.task_identifier, self.payload, **options)
        except NotFoundError as exc:
            raise task_not_found(self.task_identifier, self.hook) from exc
        run_id = self._reuse_or_restart(result.id, key, options) if result.is_cached else result.id
        self._publish(context, run_id)
        return run_id

    def _tag_for_feed(self, context: Context, options: dict[str, Any]) -> str | None:
        """For a deferred realtime wait, tag the run with its DAG run: the triggerer's feed key."""
        if self.wait_mode != "realtime" or not (self.deferrable and self.wait_for_completion):
            return None
        tag = dag_run_tag(context["ti"].dag_id, context["ti"].run_id)
        tags = with_tag(options.get("tags"), tag)
        if tags is None:
            return None  # already 10 tags: the trigger follows the run's own feed
        options["tags"] = tags
        return tag

    def _reuse_or_restart(self, run_id: str, key: str | None, options: dict[str, Any]) -> str:
        """Re-attach to a cached run, unless it ended badly (e.g. canceled): then reset its key, restart."""
        status = status_name(self.hook.runs.retrieve(run_id))
        if status not in FAILURE or key is None:
            self.log.info(
                "Re-attached to run %s (%s), started earlier with the same idempotency key", run_id, status
            )
            return run_id
        self.log.info(
            "Run %s for this idempotency key ended %s; resetting the key, starting a new run", run_id, status
        )
        self.hook.client.idempotency_keys.reset(key, task_identifier=self.task_identifier)
        return str(self.hook.tasks.trigger(self.task_identifier, self.payload, **options).id)

    # -- waiting ----------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.wait_for_completion:
            run_id = self.trigger_run(context)
            self.log.info("Triggered %s: run %s: %s", self.task_identifier, run_id, self.hook.run_url(run_id))
            return run_id
        # ResumableJobMixin (Airflow 3.3+): the run id goes to the task state store before the wait, so
        # a retry after a crash resumes that run. Its resumed path returns None: the result comes from
        # _succeeded, the one exit of every path.
        self.execute_resumable(context)
        return self._result

    # -- ResumableJobMixin: trigger / status / wait / result ---------------------------------------

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Trigger the run; the stored id carries the clear it belongs to (see ``get_job_status``)."""
        run_id = self.trigger_run(context)
        self.log.info("Triggered %s: run %s: %s", self.task_identifier, run_id, self.hook.run_url(run_id))
        return {"run_id": run_id, "clear": clear_generation(context)}

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Status of the run an earlier try stored: ``CLEARED`` when the task was cleared since (a clear
        does the work again), ``NOT_FOUND`` when it is gone; both make the mixin trigger a new run."""
        run_id, generation = _stored(external_id)
        if generation != clear_generation(context):
            self.log.info("Run %s was started before this task was cleared; starting a new run", run_id)
            return CLEARED
        self.run_id = run_id
        try:
            run = self.hook.runs.retrieve(run_id, request_options=LOOKUP_REQUEST)
        except NotFoundError:
            self.log.warning("Run %s stored by an earlier try no longer exists", run_id)
            return NOT_FOUND
        return status_name(run)

    def is_job_active(self, status: str) -> bool:
        return status not in (NOT_FOUND, CLEARED) and status not in TERMINAL

    def is_job_succeeded(self, status: str) -> bool:
        return status in SUCCESS

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        """The result, also when an earlier try's run had already completed (nothing polled in this try)."""
        if not self._finished:
            run_id = self._resumed(context, _stored(external_id)[0])
            self._finish(context, self.hook.runs.retrieve(run_id).output, run_id)
        return self._result

    def _resumed(self, context: Context, run_id: str) -> str:
        """Adopt a run started by an earlier try (found in the task state store) and publish its id."""
        if self._published != run_id:
            self.log.info("Resuming run %s, started by an earlier try: %s", run_id, self.hook.run_url(run_id))
            self._publish(context, run_id)
        return run_id

    def _publish(self, context: Context, run_id: str) -> None:
        """The run id and URL to XCom at once, the "View run" link included (Airflow writes links only
        when a task ends: a person watching a long wait needs it now)."""
        self.run_id = self._published = run_id
        self.watching(context, [run_id])
        url = self.hook.run_url(run_id)
        ti = context["ti"]
        ti.xcom_push(key=RUN_ID_XCOM_KEY, value=run_id)
        ti.xcom_push(key=RUN_URL_XCOM_KEY, value=url)
        ti.xcom_push(key=TriggerRunLink().xcom_key, value=url)

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        """Wait for the run here or deferred in the triggerer; raises when it fails."""
        run_id = self._resumed(context, _stored(external_id)[0])
        result = self.wait_for(context, [run_id])
        self.wait_over()
        self._finished = True
        result.raise_unless_success(self.hook.run_url)
        return self._finish(context, result.outputs.get(run_id), run_id)

    def _finish(self, context: Context, output: Any, run_id: str) -> Any:
        self._finished = True
        return self._succeeded(context, run_id, output)

    def _succeeded(self, context: Context, run_id: str, output: Any) -> Any:
        """The task's return value once its run completed: the one exit for the worker and deferred paths.

        Asset outlets get the run's id, status, URL and (small) output as their event's ``extra``.
        """
        check_xcom_size(output, what="output", run_id=run_id, push=self.do_xcom_push)
        self._result = output
        attach_to_outlets(
            self,
            context,
            {
                "run_id": run_id,
                "task_identifier": self.task_identifier,
                "status": "COMPLETED",
                "run_url": self.hook.run_url(run_id),
                **small_output(output),
            },
        )
        return output

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: the output, or the error the wait ended in."""
        result = self.resumed(context, event)
        run_id = result.run_ids[0]
        self.run_id = run_id
        self._finished = True
        result.raise_unless_success(self.hook.run_url)
        return self._succeeded(context, run_id, result.outputs.get(run_id))


def _stored(external_id: Any) -> tuple[str, int]:
    """``(run_id, clear generation)`` of a stored id: ``{"run_id", "clear"}``, or a bare id (stored
    by earlier versions, taken as generation 1)."""
    if isinstance(external_id, dict):
        return str(external_id.get("run_id")), int(external_id.get("clear") or 1)
    return str(external_id), 1
