"""Deferrable waits on Trigger.dev runs: thin triggers over the wait engine's triggerer driver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_trigger.client.realtime import output_in_feed
from airflow_provider_trigger.exceptions import TriggerWaitError
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.hooks._async_clients import client_key
from airflow_provider_trigger.triggers.engine.feeds import FeedKind
from airflow_provider_trigger.triggers.engine.lifecycle import CANCEL_TIMEOUT, acancel_if_stopped
from airflow_provider_trigger.triggers.engine.realtime import check_wait_mode
from airflow_provider_trigger.triggers.engine.result import ERROR, EVENT_STATUSES, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import FAILURE, SUCCESS, RunSet, RunWatch
from airflow_provider_trigger.triggers.engine.triggerer import TriggererWait

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient

__all__ = ["CANCEL_TIMEOUT", "EVENT_STATUSES", "TriggerBatchTrigger", "TriggerRunTrigger"]


class _RunsTrigger(BaseTrigger):
    """What both wait triggers share: the engine's wait, one event, and ``on_kill``."""

    run_ids: list[str]
    batch_id: str | None = None
    target_statuses: Sequence[str] = tuple(sorted(SUCCESS))
    failure_statuses: Sequence[str] = tuple(sorted(FAILURE))
    run_url: str | None = None

    def __init__(
        self,
        *,
        trigger_conn_id: str,
        poll_interval: float,
        end_time: float | None,
        cancel_on_kill: bool,
        wait_mode: str,
        feed_tag: str | None,
    ) -> None:
        super().__init__()
        self.trigger_conn_id = trigger_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.cancel_on_kill = cancel_on_kill
        self.wait_mode = check_wait_mode(wait_mode)
        self.feed_tag = feed_tag
        self._runs: RunSet | None = None

    def _common(self) -> dict[str, Any]:
        return {
            "trigger_conn_id": self.trigger_conn_id,
            "poll_interval": self.poll_interval,
            "end_time": self.end_time,
            "cancel_on_kill": self.cancel_on_kill,
            "wait_mode": self.wait_mode,
            "feed_tag": self.feed_tag,
        }

    @property
    def _what(self) -> str:
        if self.batch_id:
            return f"batch {self.batch_id}"
        return f"run {self.run_ids[0]}" if len(self.run_ids) == 1 else f"runs {', '.join(self.run_ids)}"

    def _feeds(self) -> list[tuple[FeedKind, str]]:
        feeds: list[tuple[FeedKind, str]] = [("tag", self.feed_tag)] if self.feed_tag else []
        if self.batch_id:
            feeds.append(("batch", self.batch_id))
        elif len(self.run_ids) == 1:
            feeds.append(("run", self.run_ids[0]))
        return feeds

    async def _client(self) -> AsyncTriggerClient:
        return await TriggerHook(trigger_conn_id=self.trigger_conn_id).get_async_client()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = TriggerHook(trigger_conn_id=self.trigger_conn_id)
        self._runs = runs = RunSet([])
        try:
            client = await hook.get_async_client()
            settings = await hook.aget_settings()
            runs.watches = {
                run_id: RunWatch(
                    run_id,
                    url=self.run_url if self.run_url and len(self.run_ids) == 1 else hook.run_url(run_id),
                    log=self.log,
                    target_statuses=self.target_statuses,
                    failure_statuses=self.failure_statuses,
                    environment=settings.environment,
                )
                for run_id in self.run_ids
            }
            result = await TriggererWait(
                client,
                client_key(settings),
                runs,
                poll_interval=self.poll_interval,
                deadline=self.end_time,
                wait_mode=self.wait_mode,
                feeds=self._feeds(),
                log=self.log,
                what=self._what,
                batch_id=self.batch_id,
            ).run()
            event = result.to_event(
                {r: run.output for r, run in result.runs.items() if run.is_success and output_in_feed(run)}
            )
        except TriggerWaitError as exc:
            self.log.error("%s", exc)
            event = WaitResult.ended(ERROR, runs, str(exc), self.batch_id).to_event()
        except Exception as exc:  # reported to the task, which fails with this message
            self.log.exception("Waiting for Trigger.dev %s failed", self._what)
            event = WaitResult.ended(ERROR, runs, f"{type(exc).__name__}: {exc}", self.batch_id).to_event()
        if not runs.watches:
            event["run_ids"] = list(self.run_ids)
        yield TriggerEvent(event)

    async def on_kill(self) -> None:
        """Cancel the unfinished runs when a person marked or cleared the deferred task (Airflow 3.3+);
        a triggerer hand-over or shutdown leaves them alone (see ``engine/lifecycle.py``)."""
        if not self.cancel_on_kill:
            return
        runs = self._runs
        pending = runs.pending() if runs is not None and runs.watches else list(self.run_ids)
        await acancel_if_stopped(self._client, self.task_instance, pending, self.log)


class TriggerRunTrigger(_RunsTrigger):
    """Wait for one run to reach a target status (by default COMPLETED) or to fail, then fire one event.

    The event (see :class:`~airflow_provider_trigger.triggers.engine.WaitResult`) is
    ``{"status": "success"|"failed"|"timeout"|"error", "run_id", "run_status", "run_ids", "runs",
    "failed", "message"}`` plus ``"outputs"`` when the output is small (otherwise the task fetches it).
    API incidents are waited out until ``end_time``; only permanent errors end the wait early.

    :param run_id: the ``run_…`` id to wait for.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    :param poll_interval: seconds between two status checks.
    :param end_time: absolute deadline (epoch seconds); past it the event is ``timeout``.
    :param target_statuses: statuses that end the wait successfully.
    :param failure_statuses: statuses that end it as ``failed`` (any other terminal status does too).
    :param cancel_on_kill: cancel the run when a person marks or clears the deferred task (3.3+).
    :param run_url: the run's dashboard URL, for messages.
    :param wait_mode: ``"realtime"`` (default, with polling as the fallback) or ``"poll"``.
    :param feed_tag: a tag naming the run's Airflow DAG run: waits of one DAG run share its feed.
    """

    def __init__(
        self,
        run_id: str,
        *,
        trigger_conn_id: str = TriggerHook.default_conn_name,
        poll_interval: float = 5.0,
        end_time: float | None = None,
        target_statuses: Sequence[str] = tuple(sorted(SUCCESS)),
        failure_statuses: Sequence[str] = tuple(sorted(FAILURE)),
        cancel_on_kill: bool = True,
        run_url: str | None = None,
        wait_mode: str = "realtime",
        feed_tag: str | None = None,
    ) -> None:
        super().__init__(
            trigger_conn_id=trigger_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            cancel_on_kill=cancel_on_kill,
            wait_mode=wait_mode,
            feed_tag=feed_tag,
        )
        self.run_id = run_id
        self.run_ids = [run_id]
        self.target_statuses = sorted(target_statuses)
        self.failure_statuses = sorted(failure_statuses)
        self.run_url = run_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_trigger.triggers.runs.TriggerRunTrigger",
            {
                "run_id": self.run_id,
                **self._common(),
                "target_statuses": list(self.target_statuses),
                "failure_statuses": list(self.failure_statuses),
                "run_url": self.run_url,
            },
        )


class TriggerBatchTrigger(_RunsTrigger):
    """Wait until every run of a batch is finished, then fire one event (the shape of
    :class:`TriggerRunTrigger`'s, with ``batch_id``); outputs are fetched by the task on resume.

    ``wait_mode`` and ``feed_tag`` as for :class:`TriggerRunTrigger`; without a tag, realtime waits
    follow the batch's feed (``batch_id``).
    """

    def __init__(
        self,
        run_ids: Sequence[str],
        *,
        batch_id: str | None = None,
        trigger_conn_id: str = TriggerHook.default_conn_name,
        poll_interval: float = 5.0,
        end_time: float | None = None,
        cancel_on_kill: bool = True,
        wait_mode: str = "realtime",
        feed_tag: str | None = None,
    ) -> None:
        super().__init__(
            trigger_conn_id=trigger_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            cancel_on_kill=cancel_on_kill,
            wait_mode=wait_mode,
            feed_tag=feed_tag,
        )
        self.run_ids = list(run_ids)
        self.batch_id = batch_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_trigger.triggers.runs.TriggerBatchTrigger",
            {"run_ids": list(self.run_ids), "batch_id": self.batch_id, **self._common()},
        )
