"""The worker-side driver of the wait engine: realtime first, polling as the fallback, one clock.

Used by the operators and the sensor when they wait in the worker (``deferrable=False``), and by the
sensor's pokes. Decisions come from :mod:`.statuses` and :mod:`.incidents`; this module only does I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_trigger.client import ApiError, TriggerClientError
from airflow_provider_trigger.client.realtime import output_in_feed
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident
from airflow_provider_trigger.triggers.engine.realtime import REALTIME_BACKOFF, log_fallback, realtime_blocker
from airflow_provider_trigger.triggers.engine.result import ERROR, TIMEOUT, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import RunSet

if TYPE_CHECKING:
    from airflow_provider_trigger.client import Run, TriggerClient


class WorkerWait:
    """Wait in this process for every run of ``runs`` to be decided, or for ``deadline`` (epoch s)."""

    def __init__(
        self,
        client: TriggerClient,
        runs: RunSet,
        *,
        poll_interval: float,
        deadline: float | None,
        wait_mode: str,
        log: Any,
        what: str,
        batch_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        on_poll: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.client = client
        self.runs = runs
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.wait_mode = wait_mode
        self.log = log
        self.what = what
        self.batch_id = batch_id
        self.sleep = sleep
        self.now = now
        self.incident = Incident(what, log, now=now)
        self.on_poll = on_poll
        """Called with the runs still pending after each poll, and after realtime updates at most once
        per ``poll_interval`` (log streaming: :mod:`.logs`); its errors never end the wait."""
        self._last_hook: float | None = None

    def run(self) -> WaitResult:
        if self.wait_mode == "realtime" and self._follow_feed():
            return self._finished()
        return self._poll()

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.now()

    def _timeout(self) -> WaitResult:
        return WaitResult.ended(TIMEOUT, self.runs, self.runs.still_running_text("at the deadline"))

    def _finished(self) -> WaitResult:
        return WaitResult.finished(self.runs, self.batch_id)

    # -- realtime ---------------------------------------------------------------------------------

    def _follow_feed(self) -> bool:
        """True once every run is decided over the realtime feed; False means "poll" (logged once)."""
        if reason := realtime_blocker(self.client):
            log_fallback(self.log, self.what, reason)
            return False
        run_ids = self.runs.pending()
        if len(run_ids) > 1 and not self.batch_id:
            return False  # no single feed covers these runs: poll
        try:
            if self.batch_id:
                feed: Any = self.client.runs.subscribe_to_batch(self.batch_id, backoff=REALTIME_BACKOFF)
            else:
                feed = self.client.runs.subscribe_to_run(run_ids[0], backoff=REALTIME_BACKOFF)
            seen: set[str] = set()
            left = self._remaining()  # the feed takes a monotonic deadline
            until = None if left is None else time.monotonic() + left
            for batch in feed.batches(until=until):
                for run in batch:
                    seen.add(run.id)
                    if self.runs.observe(self._complete(run)):
                        return True
                self._hook(throttle=True)
                if missing := sorted(set(run_ids) - seen):
                    log_fallback(self.log, self.what, f"runs not in the feed: {', '.join(missing)}")
                    return False
        except (ApiError, TriggerClientError) as exc:
            log_fallback(self.log, self.what, f"{type(exc).__name__}: {exc}")
            return False
        if (left := self._remaining()) is not None and left <= 0:
            return False  # the poll loop reports the timeout
        log_fallback(self.log, self.what, "the feed ended before the runs were decided")
        return False

    def _complete(self, run: Run) -> Run:
        """The run with its output: the REST API's when the feed did not carry it (object store)."""
        if run.is_success and not output_in_feed(run):
            return self.client.runs.retrieve(run.id, request_options=READ_REQUEST)
        return run

    def _hook(self, *, throttle: bool = False) -> None:
        if self.on_poll is None:
            return
        now = self.now()
        if throttle and self._last_hook is not None and now - self._last_hook < self.poll_interval:
            return
        self._last_hook = now
        try:
            self.on_poll(self.runs.pending())
        except Exception as exc:
            self.log.warning("While waiting for %s: %s", self.what, exc)

    # -- polling ----------------------------------------------------------------------------------

    def _poll(self) -> WaitResult:
        while True:
            delay = self.poll_interval
            try:
                for run_id in self.runs.pending():
                    self.runs.observe(self.client.runs.retrieve(run_id, request_options=READ_REQUEST))
                self.incident.recovered()
            except Exception as exc:
                delay = self.incident.failed(exc, self.poll_interval)  # raises when permanent
            if self.runs.done:
                return self._finished()
            self._hook()
            left = self._remaining()
            if left is not None:
                if left <= 0:
                    return self._timeout()
                delay = min(delay, left)
            self.sleep(delay)


def wait_in_worker(client: TriggerClient, runs: RunSet, **kwargs: Any) -> WaitResult:
    """Run a :class:`WorkerWait`; see its parameters."""
    return WorkerWait(client, runs, **kwargs).run()


__all__ = ["ERROR", "WorkerWait", "wait_in_worker"]
