"""Run one try of an operator the way the Task SDK runner does, without a scheduler.

The task instance is Airflow's real ``RuntimeTaskInstance`` with its real template context (so templates
such as the default idempotency key render exactly as in production); only the calls that would go to
the supervisor process (XCom push/pull, the first reschedule date) are recorded in memory.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.api.datamodels._generated import DagRun, DagRunState, DagRunType, TIRunContext
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

from airflow_provider_trigger.emulator import EmulatorServer

DAG_RUN_ID = "manual__2026-11-23T00:00:00+00:00"


class RecordingTaskInstance(RuntimeTaskInstance):
    """A real ``RuntimeTaskInstance`` whose supervisor calls are answered from memory."""

    xcoms: dict[str, Any] = {}
    first_reschedule_date: datetime | None = None

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON, as the real backend requires
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:  # type: ignore[override]
        return self.xcoms.get(key)

    def get_first_reschedule_date(self, context: Any) -> Any:
        return self.first_reschedule_date


class MemoryTaskStateStore:
    """``context["task_state_store"]`` kept in a dict (the real accessor asks the supervisor).

    Same API as Airflow's ``TaskStateStoreAccessor``; share ``values`` between tries of one task
    instance, as the server does (retries share the rows).
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        json.dumps(value)  # values must be JSON, as the real store requires
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def clear(self) -> None:
        self.values.clear()


def start_try(
    task: Any,
    *,
    try_number: int = 1,
    map_index: int = -1,
    run_id: str = DAG_RUN_ID,
    xcoms: dict[str, Any] | None = None,
    task_state: dict[str, Any] | None = None,
    cleared_after_try: int | None = None,
) -> tuple[Any, dict[str, Any], RecordingTaskInstance]:
    """Prepare one try of ``task`` (which must belong to a DAG): ``(task copy, context, ti)``.

    As the runner does, the task is copied for execution and its template fields are rendered.
    Share ``xcoms`` between tries to see what each try pushed, and ``task_state`` (the task state
    store's contents) to let a retry find what an earlier try stored. ``cleared_after_try=k`` models
    a person clearing the task after try ``k``: Airflow then sets ``max_tries`` to ``k + retries``.
    """
    now = datetime.now(UTC)
    task = task.prepare_for_execution()
    max_tries = task.retries + (cleared_after_try or 0)
    dag_run = DagRun(
        dag_id=task.dag_id,
        run_id=run_id,
        logical_date=now,
        data_interval_start=now,
        data_interval_end=now,
        run_after=now,
        start_date=now,
        end_date=None,
        run_type=DagRunType.MANUAL,
        state=DagRunState.RUNNING,
        consumed_asset_events=[],
        clear_number=0,
        **({"partition_key": None} if "partition_key" in DagRun.model_fields else {}),  # Airflow 3.2+
    )
    ti = RecordingTaskInstance.model_construct(
        id=uuid.uuid4(),
        task_id=task.task_id,
        dag_id=task.dag_id,
        run_id=run_id,
        try_number=try_number,
        map_index=map_index,
        dag_version_id=uuid.uuid4(),
        task=task,
        _ti_context_from_server=TIRunContext(dag_run=dag_run, max_tries=max_tries, should_retry=False),
        max_tries=max_tries,
        start_date=now,
        xcoms={} if xcoms is None else xcoms,
        first_reschedule_date=None,
    )
    context = dict(ti.get_template_context())
    context["task_state_store"] = MemoryTaskStateStore({} if task_state is None else task_state)
    task.render_template_fields(context)
    return task, context, ti


def connection_env(emulator: EmulatorServer, **extra: Any) -> str:
    """``AIRFLOW_CONN_…`` value (JSON form) for the emulator's dev key, with fast client retries."""
    extras = {"retry_min_timeout": 0.01, "retry_max_timeout": 0.05, **extra}
    return json.dumps(
        {"conn_type": "trigger", "host": emulator.base_url, "password": emulator.secret_key, "extra": extras}
    )
