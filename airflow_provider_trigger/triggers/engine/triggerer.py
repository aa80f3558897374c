"""The triggerer-side driver of the wait engine: shared realtime feeds first, polling as the fallback.

Never blocks the event loop; every wait of one set of credentials shares the process's feeds
(:mod:`.feeds`) and its incident gate (:mod:`.incidents`), so many waits cost few requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_trigger.triggers.engine.feeds import FeedKind, follow_feeds
from airflow_provider_trigger.triggers.engine.incidents import READ_REQUEST, Incident, incident_gates
from airflow_provider_trigger.triggers.engine.result import TIMEOUT, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import RunSet

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient


def loop_deadline(end_time: float | None) -> float | None:
    """An epoch deadline on the running loop's clock (``asyncio.timeout_at`` takes loop time)."""
    if end_time is None:
        return None
    return asyncio.get_running_loop().time() + (end_time - time.time())


class TriggererWait:
    """Wait in the triggerer for every run of ``runs`` to be decided, or for ``deadline`` (epoch s)."""

    def __init__(
        self,
        client: AsyncTriggerClient,
        credentials: Any,
        runs: RunSet,
        *,
        poll_interval: float,
        deadline: float | None,
        wait_mode: str,
        feeds: Sequence[tuple[FeedKind, str]],
        log: Any,
        what: str,
        batch_id: str | None = None,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.runs = runs
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.wait_mode = wait_mode
        self.feeds = list(feeds)
        self.log = log
        self.what = what
        self.batch_id = batch_id
        self.incident = Incident(what, log)

    def _timeout(self) -> WaitResult:
        return WaitResult.ended(TIMEOUT, self.runs, self.runs.still_running_text("at the deadline"))

    async def run(self) -> WaitResult:
        if self.wait_mode == "realtime":
            try:
                async with asyncio.timeout_at(loop_deadline(self.deadline)):
                    if await follow_feeds(
                        self.client,
                        self.credentials,
                        self.feeds,
                        self.runs.pending(),
                        self.runs.observe,
                        log=self.log,
                        what=self.what,
                    ):
                        return WaitResult.finished(self.runs, self.batch_id)
            except TimeoutError:
                return self._timeout()
        return await self._poll()

    async def _poll(self) -> WaitResult:
        gate = incident_gates.get(self.credentials)
        while True:
            token = await gate.enter(self.deadline)
            if token is None:
                return self._timeout()
            delay = self.poll_interval
            pending = self.runs.pending()
            try:
                answers = await asyncio.gather(
                    *(self.client.runs.retrieve(r, request_options=READ_REQUEST) for r in pending),
                    return_exceptions=True,
                )
            except BaseException:  # cancelled: hand the probe slot on
                gate.release(token)
                raise
            errors = [a for a in answers if isinstance(a, BaseException)]
            for answer in answers:
                if not isinstance(answer, BaseException):
                    self.runs.observe(answer)
            if errors:
                gate.failed(token, errors[0], self.poll_interval)
                delay = self.incident.failed(errors[0], self.poll_interval)  # raises when permanent
            else:
                gate.succeeded(token)
                self.incident.recovered()
            if self.runs.done:
                return WaitResult.finished(self.runs, self.batch_id)
            if self.deadline is not None:
                left = self.deadline - time.time()
                if left <= 0:
                    return self._timeout()
                delay = min(delay, left)
            if errors:
                continue  # the gate spaces the next read
            await asyncio.sleep(delay)
