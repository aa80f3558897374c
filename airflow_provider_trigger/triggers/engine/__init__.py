"""The wait engine: every wait on Trigger.dev runs — worker or triggerer, operator, sensor or trigger.

- :mod:`.statuses`: what a status means (sans-IO), progress logging, the PENDING_VERSION warning;
- :mod:`.incidents`: what an error means (transient → wait it out; permanent → fail), shared gates;
- :mod:`.result`: how a wait ends (:class:`WaitResult`), its trigger event and the task's verdict;
- :mod:`.realtime` / :mod:`.feeds`: when to follow realtime feeds, and the triggerer's shared feeds;
- :mod:`.worker` / :mod:`.triggerer`: the two drivers (sync, async) over the same decisions;
- :mod:`.lifecycle`: when a run is cancelled on kill, and which clear a try belongs to.
"""

from __future__ import annotations

from airflow_provider_trigger.triggers.engine.result import EVENT_STATUSES, WaitResult
from airflow_provider_trigger.triggers.engine.statuses import FAILURE, SUCCESS, TERMINAL, RunSet, RunWatch

__all__ = ["EVENT_STATUSES", "FAILURE", "SUCCESS", "TERMINAL", "RunSet", "RunWatch", "WaitResult"]
