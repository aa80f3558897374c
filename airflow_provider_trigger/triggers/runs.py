"""Deferrable waits on Trigger.dev runs, polled from the triggerer with the hook's shared async client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_trigger.client.realtime import output_in_feed
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.hooks._async_clients import client_key
from airflow_provider_trigger.triggers._multiplexer import FeedKind, follow_feeds
from airflow_provider_trigger.triggers._wait import (
    FAILURE,
    SUCCESS,
    RunWatch,
    check_wait_mode,
    error_message,
    event_output,
    run_output,
    status_name,
)

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient, Run

CANCEL_TIMEOUT = 15.0
"""Seconds ``on_kill`` may spend canceling: well under ``[triggerer] on_kill_timeout`` (30 s by default)."""

EVENT_STATUSES = frozenset({"success", "failed", "timeout", "error"})


class TriggerRunTrigger(BaseTrigger):
    """Wait for one run to reach a target status (by default COMPLETED) or to fail, then fire one event.

    The event is ``{"status": "success"|"failed"|"timeout"|"error", "run_id", "run_status", "message"}``
    plus ``"output"`` on success when the output is small (otherwise the task fetches it on resume).

    :param run_id: the ``run_…`` id to wait for.
    :param trigger_conn_id: Airflow connection of type ``trigger``.
    :param poll_interval: seconds between two status checks.
    :param end_time: absolute deadline (epoch seconds); past it the event is ``timeout``.
    :param target_statuses: statuses that end the wait successfully.
    :param failure_statuses: statuses that end it as ``failed`` (any other terminal status does too).
    :param cancel_on_kill: cancel the run when a user kills the deferred task (Airflow 3.3+ ``on_kill``).
    :param run_url: the run's dashboard URL, for messages.
    :param wait_mode: ``"realtime"`` (default): follow the run over a shared realtime feed, and poll
        only if that is unavailable (a PAT, 429, repeated errors); ``"poll"``: poll every ``poll_interval``.
    :param feed_tag: a tag the run carries that identifies its Airflow DAG run: every wait of that DAG
        run in this triggerer then shares one feed of that tag.
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
        super().__init__()
        self.run_id = run_id
        self.wait_mode = check_wait_mode(wait_mode)
        self.feed_tag = feed_tag
        self.trigger_conn_id = trigger_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.target_statuses = sorted(target_statuses)
        self.failure_statuses = sorted(failure_statuses)
        self.cancel_on_kill = cancel_on_kill
        self.run_url = run_url

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_trigger.triggers.runs.TriggerRunTrigger",
            {
                "run_id": self.run_id,
                "trigger_conn_id": self.trigger_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "target_statuses": list(self.target_statuses),
                "failure_statuses": list(self.failure_statuses),
                "cancel_on_kill": self.cancel_on_kill,
                "run_url": self.run_url,
                "wait_mode": self.wait_mode,
                "feed_tag": self.feed_tag,
            },
        )

    async def _client(self) -> AsyncTriggerClient:
        return await TriggerHook(trigger_conn_id=self.trigger_conn_id).get_async_client()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # reported to the task, which fails with this message
            self.log.exception("Waiting for Trigger.dev run %s failed", self.run_id)
            event = self._event("error", None, f"{type(exc).__name__}: {exc}")
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        hook = TriggerHook(trigger_conn_id=self.trigger_conn_id)
        client = await hook.get_async_client()
        watch = RunWatch(
            self.run_id,
            url=self.run_url or hook.run_url(self.run_id),
            log=self.log,
            target_statuses=self.target_statuses,
            failure_statuses=self.failure_statuses,
        )
        if self.wait_mode == "realtime" and (event := await self._wait_realtime(hook, client, watch)):
            return event
        while True:
            run = await client.runs.retrieve(self.run_id)
            if (outcome := watch.outcome(run)) is not None:
                return self._finished(outcome, run)
            delay = self.poll_interval
            if self.end_time is not None:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    status = status_name(run)
                    return self._event(
                        "timeout", status, f"Run {self.run_id} was still {status} at the deadline"
                    )
                delay = min(delay, remaining)
            await asyncio.sleep(delay)

    async def _wait_realtime(
        self, hook: TriggerHook, client: AsyncTriggerClient, watch: RunWatch
    ) -> dict[str, Any] | None:
        """The event, from the shared realtime feeds; ``None`` when the wait must poll instead."""
        decided: list[tuple[str, Run]] = []

        def decide(run: Run) -> bool:
            if (outcome := watch.outcome(run)) is not None:
                decided.append((outcome, run))
            return bool(decided)

        feeds: list[tuple[FeedKind, str]] = [("tag", self.feed_tag)] if self.feed_tag else []
        feeds.append(("run", self.run_id))
        credentials = client_key(await hook.aget_settings())
        try:
            async with asyncio.timeout_at(_loop_deadline(self.end_time)):
                if not await follow_feeds(
                    client, credentials, feeds, [self.run_id], decide, log=self.log, what=f"run {self.run_id}"
                ):
                    return None
        except TimeoutError:
            status = watch.progress.last_status
            return self._event("timeout", status, f"Run {self.run_id} was still {status} at the deadline")
        return self._finished(*decided[0])

    def _finished(self, outcome: str, run: Run) -> dict[str, Any]:
        status = status_name(run)
        if outcome == "failed":
            return self._event("failed", status, error_message(run))
        event = self._event("success", status, f"Run {self.run_id} is {status}")
        fits, output = event_output(run_output(run))
        if fits and output_in_feed(run):
            event["output"] = output
        return event

    def _event(self, status: str, run_status: str | None, message: str) -> dict[str, Any]:
        return {"status": status, "run_id": self.run_id, "run_status": run_status, "message": message}

    async def on_kill(self) -> None:
        """Cancel the run when a user marks the deferred task failed/success or clears it (Airflow 3.3+)."""
        if not self.cancel_on_kill:
            return
        await _cancel_runs(self, [self.run_id])


class TriggerBatchTrigger(BaseTrigger):
    """Wait until every run of a batch is finished, then fire one event.

    The event is ``{"status": "success"|"failed"|"timeout"|"error", "batch_id", "run_ids",
    "runs": {run_id: status},
    "failed": [run_id, …], "message"}``; outputs are fetched by the task on resume.

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
        super().__init__()
        self.run_ids = list(run_ids)
        self.batch_id = batch_id
        self.wait_mode = check_wait_mode(wait_mode)
        self.feed_tag = feed_tag
        self.trigger_conn_id = trigger_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.cancel_on_kill = cancel_on_kill
        self._finished: set[str] = set()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_trigger.triggers.runs.TriggerBatchTrigger",
            {
                "run_ids": list(self.run_ids),
                "batch_id": self.batch_id,
                "trigger_conn_id": self.trigger_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "cancel_on_kill": self.cancel_on_kill,
                "wait_mode": self.wait_mode,
                "feed_tag": self.feed_tag,
            },
        )

    async def _client(self) -> AsyncTriggerClient:
        return await TriggerHook(trigger_conn_id=self.trigger_conn_id).get_async_client()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        statuses: dict[str, str | None] = dict.fromkeys(self.run_ids)
        try:
            event = await self._wait(statuses)
        except Exception as exc:  # reported to the task, which fails with this message
            self.log.exception("Waiting for Trigger.dev runs %s failed", ", ".join(self.run_ids))
            event = self._event("error", statuses, [], f"{type(exc).__name__}: {exc}")
        yield TriggerEvent(event)

    async def _wait(self, statuses: dict[str, str | None]) -> dict[str, Any]:
        hook = TriggerHook(trigger_conn_id=self.trigger_conn_id)
        client = await hook.get_async_client()
        watches = {
            run_id: RunWatch(run_id, url=hook.run_url(run_id), log=self.log) for run_id in self.run_ids
        }
        failed: list[str] = []
        if self.wait_mode == "realtime" and (
            event := await self._wait_realtime(hook, client, watches, statuses, failed)
        ):
            return event
        while True:
            pending = [run_id for run_id in self.run_ids if run_id not in self._finished]
            runs = await asyncio.gather(*(client.runs.retrieve(run_id) for run_id in pending))
            for run in runs:
                self._observe(run, watches, statuses, failed)
            if len(self._finished) == len(self.run_ids):
                return self._done_event(statuses, failed)
            delay = self.poll_interval
            if self.end_time is not None:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    left = len(self.run_ids) - len(self._finished)
                    return self._event(
                        "timeout", statuses, failed, f"{left} runs still running at the deadline"
                    )
                delay = min(delay, remaining)
            await asyncio.sleep(delay)

    def _observe(
        self, run: Run, watches: dict[str, RunWatch], statuses: dict[str, str | None], failed: list[str]
    ) -> bool:
        """Record one run's state; True once every run of the batch is finished."""
        if run.id in watches and run.id not in self._finished:
            statuses[run.id] = status_name(run)
            if (outcome := watches[run.id].outcome(run)) is not None:
                self._finished.add(run.id)
                if outcome == "failed":
                    failed.append(run.id)
        return len(self._finished) == len(self.run_ids)

    def _done_event(self, statuses: dict[str, str | None], failed: list[str]) -> dict[str, Any]:
        if failed:
            return self._event("failed", statuses, failed, f"{len(failed)} of {len(self.run_ids)} failed")
        return self._event("success", statuses, [], f"All {len(self.run_ids)} runs completed")

    async def _wait_realtime(
        self,
        hook: TriggerHook,
        client: AsyncTriggerClient,
        watches: dict[str, RunWatch],
        statuses: dict[str, str | None],
        failed: list[str],
    ) -> dict[str, Any] | None:
        """The event, from the shared tag or batch feed; ``None`` when the rest must be polled."""
        feeds: list[tuple[FeedKind, str]] = [("tag", self.feed_tag)] if self.feed_tag else []
        if self.batch_id:
            feeds.append(("batch", self.batch_id))
        credentials = client_key(await hook.aget_settings())
        what = f"batch {self.batch_id or ', '.join(self.run_ids)}"
        try:
            async with asyncio.timeout_at(_loop_deadline(self.end_time)):
                if not await follow_feeds(
                    client,
                    credentials,
                    feeds,
                    self.run_ids,
                    lambda run: self._observe(run, watches, statuses, failed),
                    log=self.log,
                    what=what,
                ):
                    return None
        except TimeoutError:
            left = len(self.run_ids) - len(self._finished)
            return self._event("timeout", statuses, failed, f"{left} runs still running at the deadline")
        return self._done_event(statuses, failed)

    def _event(
        self, status: str, statuses: dict[str, str | None], failed: list[str], message: str
    ) -> dict[str, Any]:
        return {
            "status": status,
            "batch_id": self.batch_id,
            "run_ids": list(self.run_ids),
            "runs": dict(statuses),
            "failed": sorted(failed),
            "message": message,
        }

    async def on_kill(self) -> None:
        """Cancel the batch's unfinished runs when a user kills the deferred task (Airflow 3.3+)."""
        if not self.cancel_on_kill:
            return
        await _cancel_runs(self, [r for r in self.run_ids if r not in self._finished])


async def _cancel_runs(trigger: TriggerRunTrigger | TriggerBatchTrigger, run_ids: list[str]) -> None:
    """Best effort, bounded by :data:`CANCEL_TIMEOUT`; failures are logged, never raised."""
    if not run_ids:
        return
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT):  # the connection lookup counts against the budget too
            client = await trigger._client()
            results = await asyncio.gather(*(client.runs.cancel(r) for r in run_ids), return_exceptions=True)
    except Exception as exc:
        trigger.log.warning("Could not cancel Trigger.dev runs %s: %s", ", ".join(run_ids), exc)
        return
    for run_id, result in zip(run_ids, results, strict=True):
        if isinstance(result, BaseException):
            trigger.log.warning("Could not cancel Trigger.dev run %s: %s", run_id, result)
        else:
            trigger.log.info("Canceled Trigger.dev run %s because the task was killed", run_id)


def _loop_deadline(end_time: float | None) -> float | None:
    """An epoch deadline on the running loop's clock (for ``asyncio.timeout_at``)."""
    if end_time is None:
        return None
    return asyncio.get_running_loop().time() + (end_time - time.time())
