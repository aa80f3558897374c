"""``@task.trigger_dev`` through real Airflow (``dag.test()``, the provider registry) against the emulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG, Asset, task

from airflow_provider_trigger.decorators.trigger_dev import _TriggerDevDecoratedOperator, trigger_dev_task
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators import TriggerTaskOperator
from airflow_provider_trigger.triggers.engine.realtime import dag_run_tag
from tests.operators.test_tasks_dag import run_example, xcom  # noqa: F401  (fixture)
from tests.task_runtime import connection_env, start_try


def test_registered_through_the_provider_info() -> None:
    """``task.trigger_dev`` resolves through Airflow's ProvidersManager (provider info's task-decorators)."""
    assert task.trigger_dev is trigger_dev_task


def test_example_dag_plain_arguments_xcomargs_mapping_and_deferral(
    run_example: Any,  # noqa: F811
    emulator: EmulatorServer,
) -> None:
    dag_run = run_example("example_trigger_decorator")

    assert dag_run.state == "success"
    assert xcom(dag_run, "report") == "Hello Lin: 2 images resized"
    assert xcom(dag_run, "greet_ada") == {"name": "Ada", "greeting": "Hi"}  # plain arguments
    assert xcom(dag_run, "greet") == {"name": "Lin", "greeting": "Hello"}  # an XComArg resolved
    # Mapping: one run per image, each returning its own output, with its own idempotency key.
    assert [xcom(dag_run, "resize", map_index=i) for i in (0, 1)] == [
        {"image": "a.png", "width": 640},
        {"image": "b.png", "width": 640},
    ]
    runs = {run.task: [] for run in emulator.state.runs.values()}
    for run in emulator.state.runs.values():
        runs[run.task].append(run)
    keys = sorted(run.idempotency_key_user or "" for run in runs["resize"])
    assert keys == [f"airflow/example_trigger_decorator/resize/{dag_run.run_id}/{i}" for i in (0, 1)]
    # Deferral: deferred realtime waits tag their runs with the DAG run (the triggerer's feed key).
    tag = dag_run_tag("example_trigger_decorator", dag_run.run_id)
    assert all(tag in run.tags for run in runs["resize"])
    assert not any(tag in run.tags for run in runs["hello-world"])  # those waited in the worker
    # The operator's XComs and extra link, as TriggerTaskOperator pushes them.
    run_id = xcom(dag_run, "greet", "run_id")
    assert xcom(dag_run, "greet", "_link_TriggerRunLink") == f"{emulator.base_url}/runs/{run_id}"


def _one_task(function: Any, *args: Any, **decorator: Any) -> Any:
    with DAG("trigger_decorator_tests", schedule=None):
        return trigger_dev_task(function, task_identifier="hello-world", **decorator)(*args).operator


def test_a_payload_that_is_not_json_fails_before_any_request_naming_the_argument(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))

    def report(day: Any, rows: int) -> dict[str, Any]:
        return {"rows": rows, "window": {"day": day}}

    operator = _one_task(report, datetime(2026, 1, 1), 3)
    task_copy, context, _ = start_try(operator)
    with pytest.raises(TypeError) as excinfo:
        task_copy.execute(context)
    message = str(excinfo.value)
    assert """payload["window"]["day"] (argument 'day') is a datetime""" in message
    assert not emulator.requests.filter(method="POST")


def test_the_operator_is_the_task_operator(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same options as TriggerTaskOperator (here: fire and forget), and the function's return
    annotation does not turn on multiple_outputs (it describes the payload, not the output)."""
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))

    def payload(n: int) -> dict[str, int]:
        return {"n": n}

    operator = _one_task(payload, 7, wait_for_completion=False, tags=["from-taskflow"])
    assert isinstance(operator, _TriggerDevDecoratedOperator) and isinstance(operator, TriggerTaskOperator)
    assert operator.multiple_outputs is False
    task_copy, context, ti = start_try(operator)
    run_id = task_copy.execute(context)
    run = emulator.state.runs[run_id]
    assert run.tags == ["from-taskflow"] and '"n":7' in (run.payload or "")
    assert ti.xcoms["run_id"] == run_id


def test_retries_reattach_and_outlets_get_the_run(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry-safe default key and the asset-outlet extra, as the task operator has them."""
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    emulator.state.set_task(TaskBehaviour("hello-world", output={"rows": 3}))
    asset = Asset("trigger_dev_decorator_outlet")

    def payload(n: int) -> dict[str, int]:
        return {"n": n}

    operator = _one_task(payload, 1, outlets=[asset], retries=2, poll_interval=0.05, wait_mode="poll")
    first, context, ti = start_try(operator)
    assert first.execute(context) == {"rows": 3}
    run_id = ti.xcoms["run_id"]
    assert context["outlet_events"][asset].extra["run_id"] == run_id
    retry, context, ti = start_try(operator, try_number=2)
    assert retry.execute(context) == {"rows": 3}
    assert ti.xcoms["run_id"] == run_id and len(emulator.state.runs) == 1  # re-attached, not re-run


def test_payload_is_not_an_argument() -> None:
    with pytest.raises(TypeError, match="returns it"):
        _one_task(lambda: {}, payload={"x": 1})
