"""Trigger a Trigger.dev task from Airflow, wait for its run and hand its output downstream."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    ResumableJobMixin,
    conf,
)

from airflow_provider_trigger.client import NotFoundError, RequestOptions, RetryOptions
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
from airflow_provider_trigger.operators.links import RUN_ID_XCOM_KEY, RUN_URL_XCOM_KEY, TriggerRunLink
from airflow_provider_trigger.triggers._wait import (
    FAILURE,
    SUCCESS,
    TERMINAL,
    RunWatch,
    TriggerWaitTimeoutError,
    dag_run_tag,
    error_message,
    raise_for_failure,
    run_output,
    status_name,
    wait_for_run,
    wait_for_run_realtime,
    with_tag,
)
from airflow_provider_trigger.triggers.events import small_output
from airflow_provider_trigger.triggers.runs import EVENT_STATUSES, TriggerRunTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_trigger.client import Run

LOOKUP_REQUEST = RequestOptions(retry=RetryOptions(max_attempts=2))
"""Looking up a stored run: a 404 is retried once (the API marks it retryable), then means it is gone."""
NOT_FOUND = "NOT_FOUND"
"""``get_job_status`` of a stored run that no longer exists: the mixin then triggers a new run."""


class TriggerTaskOperator(ResumableJobMixin, TaskRunsOperator):
    """Trigger a Trigger.dev task and, by default, wait for its run and return the run's output.

    The run id and dashboard URL go to XCom (keys ``run_id``, ``run_url``) as soon as the run exists.
    The return value is the run id, or with ``wait_for_completion`` the run's output (parsed JSON).

    Retries are safe: the default ``idempotency_key`` is derived from the DAG id, task id, DAG run id
    and map index (not the try number), so a retry after a worker crash re-attaches to the run it
    started, while a retry after the run failed starts a new one (the server clears failed runs' keys;
    a cached run that was canceled gets its key reset). Clearing a task whose run completed returns
    that run's output again while the key holds (``idempotency_key_ttl``, 30 days by default). Pass
    your own (templated) key, e.g. one with ``{{ ti.try_number }}``, or ``None`` to start a new run on
    every try.

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
    :param cancel_on_kill: cancel the run when the task is killed (also while deferred, Airflow 3.3+).
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    :param durable: Airflow 3.3+ (``ResumableJobMixin``): keep the run id in the task state store
        before waiting, so a retry after a crash resumes that run even without an idempotency key; a
        stored run that completed is not run again, one that failed or is gone is triggered anew.
        Default on; below Airflow 3.3 the idempotency key alone makes retries re-attach.

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
        self.feed_tag = self._tag_for_feed(context, options)
        try:
            result = self.hook.tasks.trigger(self.task_identifier, self.payload, **options)
        except NotFoundError as exc:
            raise task_not_found(self.task_identifier, self.hook) from exc
        run_id = self._reuse_or_restart(result.id, options) if result.is_cached else result.id
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

    def _reuse_or_restart(self, run_id: str, options: dict[str, Any]) -> str:
        """Re-attach to a cached run, unless it ended badly (e.g. canceled): then reset its key, restart."""
        status = status_name(self.hook.runs.retrieve(run_id))
        if status not in FAILURE or self.idempotency_key is None:
            self.log.info(
                "Re-attached to run %s (%s), started earlier with the same idempotency key", run_id, status
            )
            return run_id
        self.log.info(
            "Run %s for this idempotency key ended %s; resetting the key, starting a new run", run_id, status
        )
        self.hook.client.idempotency_keys.reset(self.idempotency_key, task_identifier=self.task_identifier)
        return str(self.hook.tasks.trigger(self.task_identifier, self.payload, **options).id)

    # -- waiting ----------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.wait_for_completion:
            run_id = self.submit_job(context)
            self._finished = True
            return run_id
        # ResumableJobMixin (Airflow 3.3+): the run id goes to the task state store before the wait, so
        # a retry after a crash resumes that run. Its resumed path returns None: the result comes from
        # _succeeded, the one exit of every path.
        self.execute_resumable(context)
        return self._result

    # -- ResumableJobMixin: trigger / status / wait / result ---------------------------------------

    def submit_job(self, context: Context) -> str:
        run_id = self.trigger_run(context)
        self.log.info("Triggered %s: run %s: %s", self.task_identifier, run_id, self.hook.run_url(run_id))
        return run_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Status of the run an earlier try stored; ``NOT_FOUND`` (a fresh trigger follows) if it is gone."""
        self.run_id = str(external_id)  # on_kill can cancel it from here on
        try:
            run = self.hook.runs.retrieve(self.run_id, request_options=LOOKUP_REQUEST)
        except NotFoundError:
            self.log.warning("Run %s stored by an earlier try no longer exists", self.run_id)
            return NOT_FOUND
        return status_name(run)

    def is_job_active(self, status: str) -> bool:
        return status != NOT_FOUND and status not in TERMINAL

    def is_job_succeeded(self, status: str) -> bool:
        return status in SUCCESS

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        """The result, also when an earlier try's run had already completed (nothing polled in this try)."""
        if not self._finished:
            run_id = self._resumed(context, str(external_id))
            self._finish(context, "success", self.hook.runs.retrieve(run_id), self.hook.run_url(run_id))
        return self._result

    def _resumed(self, context: Context, run_id: str) -> str:
        """Adopt a run started by an earlier try (found in the task state store) and publish its id."""
        if self._published != run_id:
            self.log.info("Resuming run %s, started by an earlier try: %s", run_id, self.hook.run_url(run_id))
            self._publish(context, run_id)
        return run_id

    def _publish(self, context: Context, run_id: str) -> None:
        self.run_id = self._published = run_id
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run_id)
        context["ti"].xcom_push(key=RUN_URL_XCOM_KEY, value=self.hook.run_url(run_id))

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        """Wait for the run here or deferred in the triggerer; raises when it fails."""
        run_id = self._resumed(context, str(external_id))
        url = self.hook.run_url(run_id)
        watch = RunWatch(run_id, url=url, log=self.log)
        if self.deferrable:
            run = self.hook.runs.retrieve(run_id)
            if (outcome := watch.outcome(run)) is not None:
                return self._finish(context, outcome, run, url)
            self.defer(
                trigger=TriggerRunTrigger(
                    run_id,
                    trigger_conn_id=self.trigger_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=None if self.timeout is None else time.time() + self.timeout,
                    cancel_on_kill=self.cancel_on_kill,
                    run_url=url,
                    wait_mode=self.wait_mode,
                    feed_tag=self.feed_tag,
                ),
                method_name="execute_complete",
            )
        started = time.monotonic()
        if self.wait_mode == "realtime" and (
            done := wait_for_run_realtime(self.hook.client, watch, timeout=self.timeout, log=self.log)
        ):
            return self._finish(context, *done, url)
        left = None if self.timeout is None else max(0.0, self.timeout - (time.monotonic() - started))
        outcome, run = wait_for_run(
            self.hook.runs.retrieve, watch, poll_interval=self.poll_interval, timeout=left
        )
        return self._finish(context, outcome, run, url)

    def _finish(self, context: Context, outcome: str, run: Run, url: str) -> Any:
        self._finished = True
        if outcome != "success":
            raise_for_failure(run.id, status_name(run), error_message(run), url)
        return self._succeeded(context, run.id, run_output(run))

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
        """Resume after the trigger fired: validate its event, then return the output or fail."""
        if (
            not isinstance(event, dict)
            or event.get("status") not in EVENT_STATUSES
            or not event.get("run_id")
        ):
            raise AirflowException(f"Unexpected event from the Trigger.dev wait trigger: {event!r}")
        run_id = str(event["run_id"])
        self.run_id = run_id
        self._finished = True
        url = self.hook.run_url(run_id)
        status, message = event["status"], str(event.get("message") or "")
        if status == "success":
            output = event["output"] if "output" in event else run_output(self.hook.runs.retrieve(run_id))
            return self._succeeded(context, run_id, output)
        if status == "failed":
            raise_for_failure(run_id, str(event.get("run_status")), message, url)
        if status == "timeout":
            raise TriggerWaitTimeoutError(f"{message} ({url}); the run keeps going.")
        raise AirflowException(f"Waiting for Trigger.dev run {run_id} failed: {message} ({url})")

    def on_kill(self) -> None:
        """Cancel the remote run (best effort, bounded) when the task is killed while waiting."""
        if not self.cancel_on_kill or self.run_id is None or self._finished:
            return
        cancel_run(self.hook, self.run_id, self.log)
