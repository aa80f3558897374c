"""Waitpoint operators through real Airflow against the emulator: create (retry-safe) and complete
(a run waiting in ``wait.forToken`` continues; idempotent on retry), and the example DAG end to end."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators import (
    TriggerCompleteWaitpointOperator,
    TriggerCreateWaitpointOperator,
)
from tests.airflow_compat import AirflowException
from tests.operators.test_tasks_dag import run_example, xcom  # noqa: F401  (fixture)
from tests.task_runtime import connection_env, start_try


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as c:
        yield c


def _in_dag(operator_class: type, **kwargs: Any) -> Any:
    with DAG("trigger_waitpoint_tests", schedule=None):
        return operator_class(task_id="waitpoint", **kwargs)


def test_example_dag_both_ways(run_example: Any, emulator: EmulatorServer) -> None:  # noqa: F811
    emulator.state.set_task(TaskBehaviour("publish-report", wait_for_token="tokenId"))
    dag_run = run_example("example_waitpoints")

    assert dag_run.state == "success"
    # Trigger.dev → Airflow: the sensor was released by the completion and returns its data.
    assert xcom(dag_run, "wait_for_approval") == {"approved": True, "by": "ops"}
    token_id = xcom(dag_run, "create_approval")
    assert token_id == xcom(dag_run, "create_approval", "token_id") and token_id.startswith("waitpoint_")
    assert xcom(dag_run, "create_approval", "token_url").startswith(f"{emulator.base_url}/api/v1/waitpoints/")
    # Airflow → Trigger.dev: the run waited on its token and returned what Airflow completed it with.
    assert xcom(dag_run, "published") == {"table": "orders", "rows": 1200}
    [run] = [r for r in emulator.state.runs.values() if r.task == "publish-report"]
    assert run.waits_for == xcom(dag_run, "create_load_token")


def test_completing_a_token_that_a_run_waits_on(emulator: EmulatorServer, client: Any) -> None:
    emulator.state.set_task(TaskBehaviour("load-gate", wait_for_token="tokenId", duration=0.1))
    token = client.waitpoints.create_token(timeout="1h")
    run_id = client.tasks.trigger("load-gate", {"tokenId": token.id}).id
    time.sleep(0.3)
    assert client.runs.retrieve(run_id).status == "EXECUTING"  # blocked in wait.forToken

    operator = _in_dag(
        TriggerCompleteWaitpointOperator,
        token_id="{{ ti.xcom_pull(task_ids='create', key='token_id') }}",
        data={"rows": "{{ params.rows }}"},
        params={"rows": 42},
    )
    task_copy, context, _ = start_try(operator, xcoms={"token_id": token.id})
    assert task_copy.execute(context) == token.id
    deadline = time.time() + 10
    while (run := client.runs.retrieve(run_id)).status != "COMPLETED" and time.time() < deadline:
        time.sleep(0.05)
    assert run.output == {"rows": "42"}

    # A retry (e.g. after a lost response) completes again: success, the first data kept.
    retry, context, _ = start_try(operator, try_number=2, xcoms={"token_id": token.id})
    assert retry.execute(context) == token.id
    assert client.runs.retrieve(run_id).output == {"rows": "42"}
    completions = emulator.requests.filter(
        method="POST", path=f"/api/v1/waitpoints/tokens/{token.id}/complete"
    )
    assert len(completions) == 2


def test_completing_a_timed_out_token_fails_unless_told_otherwise(
    emulator: EmulatorServer, client: Any
) -> None:
    token = client.waitpoints.create_token(timeout="1s")
    time.sleep(1.2)
    task_copy, context, _ = start_try(_in_dag(TriggerCompleteWaitpointOperator, token_id=token.id, data=1))
    with pytest.raises(AirflowException, match="timed out before it was completed"):
        task_copy.execute(context)
    lenient = _in_dag(TriggerCompleteWaitpointOperator, token_id=token.id, fail_if_timed_out=False)
    task_copy, context, _ = start_try(lenient)
    assert task_copy.execute(context) == token.id


def test_bad_input_fails_before_any_request(emulator: EmulatorServer) -> None:
    bad_id = _in_dag(TriggerCompleteWaitpointOperator, token_id="run_123")
    task_copy, context, _ = start_try(bad_id)
    with pytest.raises(ValueError, match="waitpoint token id"):
        task_copy.execute(context)
    bad_data = _in_dag(TriggerCompleteWaitpointOperator, token_id="waitpoint_x", data={"x": float("nan")})
    task_copy, context, _ = start_try(bad_data)
    with pytest.raises(ValueError, match="data must be JSON"):
        task_copy.execute(context)
    many_tags = _in_dag(TriggerCreateWaitpointOperator, tags=[str(i) for i in range(11)])
    task_copy, context, _ = start_try(many_tags)
    with pytest.raises(ValueError, match="at most 10 tags"):
        task_copy.execute(context)
    assert not emulator.requests.filter(method="POST")


def test_create_is_retry_safe_and_a_clear_makes_a_new_token(emulator: EmulatorServer, client: Any) -> None:
    operator = _in_dag(
        TriggerCreateWaitpointOperator, timeout=timedelta(minutes=5), tags="nightly", retries=2
    )
    xcoms: dict[str, Any] = {}
    first, context, _ = start_try(operator, xcoms=xcoms)
    token_id = first.execute(context)
    assert xcoms["token_id"] == token_id and xcoms["token_url"].endswith(tuple("0123456789abcdef"))
    retry, context, _ = start_try(operator, try_number=2, xcoms=xcoms)
    assert retry.execute(context) == token_id  # same idempotency key: the same token
    cleared, context, _ = start_try(operator, try_number=3, cleared_after_try=2)
    assert cleared.execute(context) != token_id

    token = client.waitpoints.retrieve_token(token_id)
    assert token.tags == ["nightly"] and token.status == "WAITING"
    assert token.timeout_at is not None and token.created_at is not None
    assert 299 <= (token.timeout_at - token.created_at).total_seconds() <= 301
    assert token.idempotency_key == f"airflow/trigger_waitpoint_tests/waitpoint/{context['ti'].run_id}/-1"
