"""Resumable tasks (ResumableJobMixin, Airflow 3.3): a retry resumes the run an earlier try stored."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerWaitTimeoutError
from airflow_provider_trigger.operators import TriggerTaskOperator
from airflow_provider_trigger.operators._base import DEFAULT_IDEMPOTENCY_KEY
from tests.airflow_compat import TaskDeferred, needs_airflow_3_3
from tests.task_runtime import connection_env, start_try

pytestmark = needs_airflow_3_3("Durable tasks (ResumableJobMixin, the task state store)")

KEY = TriggerTaskOperator.external_id_key


def operator(**kwargs: Any) -> TriggerTaskOperator:
    kwargs = {
        "task_id": "ingest",
        "task_identifier": "ingest",
        "poll_interval": 0.05,
        "wait_mode": "poll",
        "idempotency_key": None,  # only the task state store can lead a retry back to its run
        "durable": True,  # explicit: with idempotency_key=None it defaults to off (a new run every try)
        **kwargs,
    }
    with DAG("resumable_tests", schedule=None):
        return TriggerTaskOperator(**kwargs)


def run_try(op: TriggerTaskOperator, state: dict[str, Any], try_number: int) -> tuple[Any, dict[str, Any]]:
    task, context, ti = start_try(op, try_number=try_number, task_state=state)
    return task.execute(context), ti.xcoms


def trigger_requests(emulator: EmulatorServer) -> int:
    return len(emulator.requests.filter(method="POST", path="/api/v1/tasks/ingest/trigger"))


def test_a_retry_after_a_crash_resumes_the_stored_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", duration=1.0, output={"rows": 3}))
    state: dict[str, Any] = {}
    # Try 1 stops waiting early (as if its worker died) with the run still going.
    with pytest.raises(TriggerWaitTimeoutError):
        run_try(operator(timeout=0.1), state, try_number=1)
    [stored] = state.values()
    assert stored == {"run_id": stored["run_id"], "clear": 1}  # the run and the clear it belongs to

    output, xcoms = run_try(operator(), state, try_number=2)

    assert output == {"rows": 3}  # returned on the resumed path too (the mixin alone returns None)
    assert list(emulator.state.runs) == [stored["run_id"]]  # one run on the server
    assert xcoms["run_id"] == stored["run_id"]
    assert state == {KEY: stored}


def test_a_clear_starts_a_new_run_instead_of_returning_the_stored_one(emulator: EmulatorServer) -> None:
    """A person who clears a task whose run completed wants the work done again."""
    emulator.state.set_task(TaskBehaviour("ingest", output={"rows": 3}))
    first, _ = run_try(operator(), state := {}, try_number=1)

    task, context, ti = start_try(operator(), try_number=2, task_state=state, cleared_after_try=1)
    again = task.execute(context)

    assert first == again == {"rows": 3}
    assert trigger_requests(emulator) == 2
    assert ti.xcoms["run_id"] == state[KEY]["run_id"] != next(iter(emulator.state.runs))
    assert state[KEY]["clear"] == 2


def test_a_clear_with_the_default_key_starts_a_new_run(emulator: EmulatorServer) -> None:
    """The default idempotency key gains /clear-<n>: the server does not hand back the old run."""
    emulator.state.set_task(TaskBehaviour("ingest", output={"rows": 3}))
    default_key = {"idempotency_key": DEFAULT_IDEMPOTENCY_KEY, "durable": None}
    run_try(operator(**default_key), state := {}, try_number=1)
    run_try(operator(**default_key), state, try_number=2)  # a retry: the same run
    assert len(emulator.state.runs) == 1

    task, context, _ = start_try(operator(**default_key), try_number=3, task_state=state, cleared_after_try=2)
    task.execute(context)

    assert len(emulator.state.runs) == 2
    keys = sorted(str(run.idempotency_key_user) for run in emulator.state.runs.values())
    assert keys[0].endswith("/-1") and keys[1].endswith("/-1/clear-3")


def test_without_durable_a_retry_starts_another_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", duration=1.0))
    state: dict[str, Any] = {}
    with pytest.raises(TriggerWaitTimeoutError):
        run_try(operator(durable=False, timeout=0.1), state, try_number=1)

    run_try(operator(durable=False), state, try_number=2)

    assert state == {}
    assert len(emulator.state.runs) == 2


def test_a_stored_run_that_completed_returns_its_output_without_a_new_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", output={"done": True}))
    first, _ = run_try(operator(), state := {}, try_number=1)
    assert first == {"done": True}

    output, xcoms = run_try(operator(), state, try_number=2)

    assert output == {"done": True}
    assert trigger_requests(emulator) == 1
    assert xcoms["run_id"] == state[KEY]["run_id"]


def test_a_stored_run_that_is_gone_or_failed_is_triggered_anew(emulator: EmulatorServer) -> None:
    state: dict[str, Any] = {KEY: "run_thisrunisgone000000000"}
    output, xcoms = run_try(operator(payload={"n": 1}), state, try_number=2)

    assert output == {"n": 1}
    assert state[KEY]["run_id"] == xcoms["run_id"] != "run_thisrunisgone000000000"

    emulator.state.set_task(TaskBehaviour("ingest", fail="boom"))
    failed_state: dict[str, Any] = {}
    with pytest.raises(Exception, match="boom"):
        run_try(operator(), failed_state, try_number=1)
    emulator.state.set_task(TaskBehaviour("ingest"))
    run_try(operator(payload={"n": 2}), failed_state, try_number=2)
    assert trigger_requests(emulator) == 3


def test_deferrable_retry_defers_on_the_stored_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", duration=30))
    state: dict[str, Any] = {}
    with pytest.raises(TaskDeferred) as first:
        run_try(operator(deferrable=True), state, try_number=1)

    with pytest.raises(TaskDeferred) as second:
        run_try(operator(deferrable=True), state, try_number=2)

    assert second.value.trigger.run_id == first.value.trigger.run_id == state[KEY]["run_id"]
    assert len(emulator.state.runs) == 1


def test_dag_retry_resumes_through_airflows_task_state_store(
    dags_folder: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    """``dag.test()``: a real task instance, Airflow's state store in the DB, a real retry."""
    from airflow.models.task_state_store import TaskStateStoreModel  # type: ignore[attr-defined]
    from airflow.utils.session import create_session

    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    emulator.state.set_task(TaskBehaviour("ingest", duration=1.0, output={"rows": 9}))
    # Try 1's first status read is refused (a permanent error fails the try); try 2 resumes the run.
    emulator.faults.inject("GET", "/api/v3/runs/*", kind=403, count=1)
    path = dags_folder / "resumable_retry_dag.py"
    path.write_text(
        textwrap.dedent(
            """
            from datetime import timedelta
            from airflow.sdk import DAG
            from airflow_provider_trigger.operators import TriggerTaskOperator

            with DAG("resumable_retry_dag", schedule=None):
                TriggerTaskOperator(
                    task_id="ingest", task_identifier="ingest", idempotency_key=None, durable=True,
                    wait_mode="poll", poll_interval=0.1, retries=1, retry_delay=timedelta(0),
                )
            """
        )
    )
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors

    dag_run = bag.get_dag("resumable_retry_dag").test()

    assert dag_run.state == "success"
    [ti] = dag_run.get_task_instances()
    assert ti.try_number == 2
    assert ti.xcom_pull(task_ids="ingest") == {"rows": 9}
    [run_id] = list(emulator.state.runs)
    with create_session() as session:
        stored = {
            row.key: row.value for row in session.query(TaskStateStoreModel).filter_by(run_id=dag_run.run_id)
        }
    assert run_id in str(stored[KEY])


def test_durable_comes_from_default_args_too() -> None:
    with DAG("resumable_defaults", schedule=None, default_args={"durable": False}):
        from_defaults = TriggerTaskOperator(task_id="a", task_identifier="ingest")
        explicit = TriggerTaskOperator(task_id="b", task_identifier="ingest", durable=True)
    assert from_defaults.durable is False
    assert explicit.durable is True
    assert TriggerTaskOperator(task_id="c", task_identifier="ingest").durable is True
