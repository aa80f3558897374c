"""The triggerer-side driver of the wait engine: shared realtime feeds first, polling as the fallback.

Never blocks the event loop; every wait of one set of credentials shares the process's feeds
(:mod:`.feeds`), its incident gate (:mod:`.incidents`) and its request budget (:mod:`.budget`): many
waits cost few requests, and polling never spends more than the budget however many waits poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_trigger.client import Run
from airflow_provider_trigger.triggers.engine.budget import BUDGETED_READ, request_budgets
from airflow_provider_trigger.triggers.engine.feeds import FeedKind, follow_feeds
from airflow_provider_trigger.triggers.engine.incidents import Incident, incident_gates
from airflow_provider_trigger.triggers.engine.result import TIMEOUT, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import RunSet

if TYPE_CHECKING:
    from airflow_provider_trigger.client import AsyncTriggerClient
    from airflow_provider_trigger.triggers.engine.budget import RequestBudget


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
        budget: float | None = None,
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
        self.budget = budget
        """Requests per second for the process's budget (first wait sets it); None: configured."""
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
        budget = request_budgets.get(self.credentials, self.budget)
        budget.waits += 1
        try:
            return await self._poll_within(budget)
        finally:
            budget.waits -= 1

    async def _poll_within(self, budget: RequestBudget) -> WaitResult:
        gate = incident_gates.get(self.credentials)

        async def read(run_id: str) -> Run | None:
            if not await budget.take(self.deadline, log=self.log):
                return None  # the deadline came before a slot
            return await self.client.runs.retrieve(run_id, request_options=BUDGETED_READ)

        while True:
            token = await gate.enter(self.deadline)
            if token is None:
                return self._timeout()
            delay = self.poll_interval
            pending = self.runs.pending()
            try:
                answers = await asyncio.gather(*(read(r) for r in pending), return_exceptions=True)
            except BaseException:  # cancelled: hand the probe slot on
                gate.release(token)
                raise
            throttled = [a for a in answers if isinstance(a, BaseException) and budget.rate_limited(a)]
            errors = [a for a in answers if isinstance(a, BaseException) and a not in throttled]
            for answer in answers:
                if isinstance(answer, Run):
                    self.runs.observe(answer)
            if errors:
                gate.failed(token, errors[0], self.poll_interval)
                delay = self.incident.failed(errors[0], self.poll_interval)  # raises when permanent
            elif throttled:  # a rate signal, not an outage: the budget waits out the reset
                gate.release(token)
            else:
                gate.succeeded(token)
                self.incident.recovered()
            if self.runs.done:
                return WaitResult.finished(self.runs, self.batch_id)
            if any(a is None for a in answers):
                return self._timeout()
            if self.deadline is not None:
                left = self.deadline - time.time()
                if left <= 0:
                    return self._timeout()
                delay = min(delay, left)
            if errors or throttled:
                continue  # the gate spaces the next read after an outage, the budget after a 429
            await asyncio.sleep(delay)
