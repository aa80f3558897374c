"""Figure 1 at the operator level: tasks and batches triggered from Airflow while ~20 % of requests fail.

Real operators, real task instances, the real hook (connection with fast retries) and the emulator's
random faults of every kind: each task instance gets exactly one run, each batch item one run.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator
from benchmarks.reliability import FAULT_KINDS
from tests.task_runtime import connection_env, start_try


@pytest.fixture(autouse=True)
def faulty(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    # 10 attempts: with 20 % faults and several requests per task, 5 would sometimes run out
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, retry_max_attempts=10))
    emulator.state.set_task(TaskBehaviour("reliable", duration=0.05, queue_time=0.01))
    emulator.faults.inject_random(0.2, FAULT_KINDS, seed=21, path="/api/*", reset_after=0.05)
    return emulator


def run(operator: Any, **try_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    task, context, ti = start_try(operator, **try_kwargs)
    return task.execute(context), ti.xcoms


def test_each_task_instance_gets_exactly_one_run(faulty: EmulatorServer) -> None:
    with DAG("reliability_operator_faults", schedule=None):
        operators = [
            TriggerTaskOperator(
                task_id=f"t{n}", task_identifier="reliable", payload={"n": n}, wait_for_completion=False
            )
            for n in range(30)
        ]
    pushed = {op.task_id: run(op)[1]["run_id"] for op in operators}

    faults = len(faulty.faults.fired)
    faulty.faults.clear()
    runs = {run.id: run for run in faulty.state.runs.values()}
    assert faults > 0
    assert len(runs) == 30 and set(pushed.values()) == set(runs)
    assert sorted(run.idempotency_key_user.split("/")[2] for run in runs.values()) == sorted(pushed)


def test_a_waiting_batch_gets_one_run_per_item_and_all_outputs(faulty: EmulatorServer) -> None:
    with DAG("reliability_operator_faults", schedule=None):
        batch = TriggerBatchOperator(
            task_id="fan_out",
            task_identifier="reliable",
            payloads=[{"n": n} for n in range(25)],
            poll_interval=0.05,
            wait_mode="poll",
        )

    result, xcoms = run(batch)

    faulty.faults.clear()
    assert len(faulty.state.runs) == 25
    assert sorted(xcoms["run_ids"]) == sorted(faulty.state.runs)
    assert [output["n"] for output in result["outputs"]] == list(range(25))
