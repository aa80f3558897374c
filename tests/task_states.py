"""What the Airflow API server answers when a task asks for its own state (``GetTaskStates``).

``on_kill`` cancels a run only when the task instance's state shows a person acted (see
``triggers/engine/lifecycle.py``). In-process tests have no API server behind ``SUPERVISOR_COMMS``, so
:class:`TaskStateSupervisor` answers that one request with a given state, in the shape the real
request handler returns (``TaskStatesResult``); the real deployment suite covers the whole path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class TaskInstanceRef:
    """The fields of a task instance that the state lookup uses (as on ``TaskInstanceDTO``)."""

    dag_id: str = "dag"
    task_id: str = "task"
    run_id: str = "manual__1"
    map_index: int = -1


class TaskStateSupervisor:
    """Answers ``GetTaskStates`` with ``state`` for every task instance asked about."""

    def __init__(self, state: str | None) -> None:
        self.state = state
        self.asked: list[Any] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        if type(msg).__name__ == "MaskSecret":  # the hook masks the key as it reads the connection
            return None
        if not isinstance(msg, GetTaskStates):
            raise NotImplementedError(f"{type(msg).__name__} is not served here")
        self.asked.append(msg)
        task = msg.task_ids[0] if msg.map_index in (None, -1) else f"{msg.task_ids[0]}_{msg.map_index}"
        return TaskStatesResult(task_states={run_id: {task: self.state} for run_id in msg.run_ids or []})

    async def asend(self, msg: Any) -> Any:
        return await asyncio.to_thread(self.send, msg)


@contextmanager
def task_state(state: str | None) -> Iterator[TaskStateSupervisor]:
    """``SUPERVISOR_COMMS`` answering that the task instance is in ``state`` (``None``: cleared)."""
    from airflow.sdk.execution_time.supervisor import set_supervisor_comms

    supervisor = TaskStateSupervisor(state)
    with set_supervisor_comms(supervisor):
        yield supervisor
