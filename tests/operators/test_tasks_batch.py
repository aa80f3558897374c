"""TriggerBatchOperator: one batch request, waits for every run, retries only what failed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerRunFailedError, TriggerWaitTimeoutError
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.operators.batches import TriggerBatchOperator
from airflow_provider_trigger.triggers.runs import TriggerBatchTrigger
from tests.airflow_compat import TaskDeferred
from tests.task_runtime import connection_env, start_try


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


def make_operator(**kwargs: Any) -> TriggerBatchOperator:
    kwargs = {"task_id": "fan_out", "task_identifier": "resize", "poll_interval": 0.05, **kwargs}
    with DAG("trigger_batch_tests", schedule=None):
        return TriggerBatchOperator(**kwargs)


def run_try(operator: TriggerBatchOperator, **try_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    task, context, ti = start_try(operator, **try_kwargs)
    return task.execute(context), ti.xcoms


def fail_when_not_ok(payload: Any) -> Any:
    if not payload["ok"]:
        raise ValueError(f"image {payload['n']} is corrupt")
    return {"resized": payload["n"]}


def test_triggers_one_batch_and_returns_outputs_in_order(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("resize", output=lambda p: {"resized": p["n"]}))

    result, xcoms = run_try(make_operator(payloads=[{"n": n} for n in range(3)], options={"tags": ["batch"]}))

    assert result["outputs"] == [{"resized": 0}, {"resized": 1}, {"resized": 2}]
    assert result["run_ids"] == xcoms["run_ids"]
    assert result["batch_id"] == xcoms["batch_id"]
    assert len(emulator.state.runs) == 3
    assert all(run.tags == ["batch"] for run in emulator.state.runs.values())
    assert len([r for r in emulator.requests if r.path == "/api/v3/batches"]) == 1


def test_without_waiting_returns_the_run_ids(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("resize", duration=30))

    result, _ = run_try(make_operator(payloads=[1, 2], wait_for_completion=False))

    assert set(result) == {"batch_id", "run_ids"}
    assert sorted(result["run_ids"]) == sorted(emulator.state.runs)


def test_failed_runs_are_listed_and_a_retry_reruns_only_them(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("resize", output=fail_when_not_ok))
    operator = make_operator(payloads=[{"n": 0, "ok": True}, {"n": 1, "ok": False}, {"n": 2, "ok": True}])

    with pytest.raises(TriggerRunFailedError) as excinfo:
        run_try(operator, try_number=1)
    message = str(excinfo.value)
    assert "1 of 3 Trigger.dev runs" in message
    assert "image 1 is corrupt" in message
    first_ids = set(emulator.state.runs)

    emulator.state.set_task(TaskBehaviour("resize", output=lambda p: {"resized": p["n"]}))
    result, _ = run_try(operator, try_number=2)

    assert result["outputs"] == [{"resized": 0}, {"resized": 1}, {"resized": 2}]
    assert len(emulator.state.runs) == 4  # only the failed item ran again
    assert len(set(result["run_ids"]) & first_ids) == 2


def test_retry_after_a_crash_reattaches_to_every_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("resize", duration=1.0))
    operator = make_operator(payloads=["a", "b"])
    crashed = operator.prepare_for_execution()
    crashed.timeout = 0.1
    with pytest.raises(TriggerWaitTimeoutError):
        run_try(crashed, try_number=1)

    result, _ = run_try(operator, try_number=2)

    assert result["outputs"] == ["a", "b"]
    assert len(emulator.state.runs) == 2


def test_deferrable_waits_in_the_trigger(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("resize", duration=0.3))
    task, context, _ = start_try(make_operator(payloads=[{"n": 1}, {"n": 2}], deferrable=True))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, TriggerBatchTrigger)

    async def first_event() -> dict[str, Any]:
        try:
            return dict((await anext(trigger.run())).payload)
        finally:
            await close_async_clients()

    event = asyncio.run(first_event())
    assert event["status"] == "success"
    result = task.execute_complete(context, event)
    assert result["outputs"] == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    ("payloads", "problem"),
    [
        ([], "1 to 1000 payloads"),
        ({"n": 1}, "must be a list of payloads"),
        ([{"n": 1}, {"n": float("nan")}], r"payloads\[1\] must be JSON-serialisable"),
    ],
)
def test_bad_payloads_fail_before_any_request(emulator: EmulatorServer, payloads: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        run_try(make_operator(payloads=payloads))
    assert not [r for r in emulator.requests if "batches" in r.path]


def test_an_item_that_cannot_trigger_becomes_a_failed_run_named_in_the_error(
    emulator: EmulatorServer,
) -> None:
    """Production: a batch item that fails to trigger (here: over the 3 MB item limit) becomes a
    failed run of the batch, in item order; the operator waits for processing, then fails naming it."""
    emulator.state.set_task(TaskBehaviour("resize", output=lambda p: {"resized": len(p)}))
    huge = "x" * (3 * 1024 * 1024 + 10)
    task, context, ti = start_try(make_operator(payloads=["a", huge, "c"]))

    with pytest.raises(TriggerRunFailedError) as failed:
        task.execute(context)

    run_ids = ti.xcoms["run_ids"]
    assert len(run_ids) == 3  # one run per item, in item order
    assert "1 of 3 Trigger.dev runs" in str(failed.value)
    assert f"{run_ids[1]} SYSTEM_FAILURE" in str(failed.value)
    assert [emulator.state.run_status(r) for r in (run_ids[0], run_ids[2])] == ["COMPLETED", "COMPLETED"]


def test_a_batch_with_no_run_at_all_fails_clearly(emulator: EmulatorServer) -> None:
    """ABORTED: every item failed without even a failed run (the queue's size limit)."""
    emulator.state.set_task(TaskBehaviour("resize"))
    emulator.state.config.queue_size_limit = 0

    with pytest.raises(AirflowException, match=r"ABORTED: 0 of 2 items became runs"):
        run_try(make_operator(payloads=[1, 2]))
