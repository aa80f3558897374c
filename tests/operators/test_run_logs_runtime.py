"""Run logs through Airflow's task runtime (``start_try``): a deferred wait prints them in
``execute_complete``; streaming prints each line once across polls, realtime updates and retries,
and costs at most one request per poll."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import TriggerRunFailedError, TriggerWaitTimeoutError
from airflow_provider_trigger.operators import TriggerTaskOperator
from tests.airflow_compat import TaskDeferred
from tests.task_runtime import connection_env, start_try

STEPS = [("info", f"step {i}") for i in range(6)]


@pytest.fixture(autouse=True)
def _connection(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


def operator(**kwargs: Any) -> TriggerTaskOperator:
    with DAG("run_logs_runtime", schedule=None):
        return TriggerTaskOperator(task_id="etl", task_identifier="etl", poll_interval=0.1, **kwargs)


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


class TaskLog:
    """What the task printed so far (Airflow's structlog writes the task log to stdout here)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def count(self, text: str) -> int:
        self.text += self.capsys.readouterr().out
        return self.text.count(text)

    def clear(self) -> None:
        self.capsys.readouterr()
        self.text = ""


@pytest.fixture
def task_log(capsys: pytest.CaptureFixture[str]) -> TaskLog:
    return TaskLog(capsys)


def test_a_deferred_wait_prints_the_failed_runs_lines_in_execute_complete(
    emulator: EmulatorServer, task_log: TaskLog
) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=0.5, fail="Row 17 is not valid JSON", logs=STEPS))
    task, context, _ = start_try(operator(deferrable=True))
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    assert task_log.count("step 0") == 0  # nothing printed before deferring
    event = asyncio.run(_first_event(deferred.value.trigger))
    with pytest.raises(TriggerRunFailedError, match="Row 17 is not valid JSON"):
        task.execute_complete(context, event.payload)
    run_id = event.payload["run_id"]
    assert task_log.count(f"---- Trigger.dev run {run_id} logs ----") == 1
    assert [task_log.count(f"[attempt 1] step {i}") for i in range(6)] == [1] * 6
    assert task_log.count("ERROR [attempt 1] Error: Row 17 is not valid JSON") == 1
    assert task_log.count("at Object.run (file:///app/src/trigger/etl.ts:12:13)") == 1


@pytest.mark.parametrize("wait_mode", ["poll", "realtime"])
def test_streaming_prints_each_line_once_for_one_request_per_poll(
    emulator: EmulatorServer, task_log: TaskLog, wait_mode: str
) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=1.5, logs=STEPS))
    task, context, _ = start_try(operator(stream_logs=True, wait_mode=wait_mode))
    task.execute(context)
    run_id = context["ti"].xcoms["run_id"]
    assert [task_log.count(f"[attempt 1] step {i}") for i in range(6)] == [1] * 6
    assert task_log.count(f"---- Trigger.dev run {run_id} logs ----") == 1
    reads = len(emulator.requests.filter("GET", f"/api/v1/runs/{run_id}/events"))
    if wait_mode == "poll":
        polls = len(emulator.requests.filter("GET", f"/api/v3/runs/{run_id}"))
        assert 2 <= reads <= polls + 1  # one per poll that found the run still going, one at the end
    else:
        assert reads >= 2  # streamed on realtime updates, not only at the end


def test_streaming_success_prints_the_last_lines_only_when_not_streaming(
    emulator: EmulatorServer, task_log: TaskLog
) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=0.2, logs=STEPS))
    task, context, _ = start_try(operator(log_lines_on_success=2))
    task.execute(context)
    assert [task_log.count(f"[attempt 1] step {i}") for i in range(6)] == [0, 0, 0, 0, 1, 1]
    assert task_log.count("... 4 earlier lines of run") == 1


def test_a_retry_re_attaching_to_the_run_prints_its_lines_once_in_its_own_log(
    emulator: EmulatorServer, task_log: TaskLog
) -> None:
    emulator.state.set_task(TaskBehaviour("etl", duration=1.5, logs=STEPS))
    first, context, _ = start_try(operator(stream_logs=True, wait_mode="poll", timeout=0.6), try_number=1)
    with pytest.raises(TriggerWaitTimeoutError):
        first.execute(context)
    in_first_try = [task_log.count(f"[attempt 1] step {i}") for i in range(6)]
    assert 1 in in_first_try and set(in_first_try) <= {0, 1}  # some streamed, none twice
    task_log.clear()
    second, context, _ = start_try(operator(stream_logs=True, wait_mode="poll"), try_number=2)
    second.execute(context)
    assert len(emulator.state.runs) == 1  # the retry re-attached to the same run
    assert [task_log.count(f"[attempt 1] step {i}") for i in range(6)] == [1] * 6  # try 2's log is whole


def test_bad_log_settings_fail_at_parse_time() -> None:
    with pytest.raises(ValueError, match="log_lines_on_success must be an integer >= 0, got -1"):
        operator(log_lines_on_success=-1)


def test_a_secret_the_provider_synced_is_masked_in_the_runs_lines(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, task_log: TaskLog
) -> None:
    """An env var synced as a secret, then printed by the run that reads it: masked in the task log."""
    from airflow_provider_trigger.operators import TriggerEnvVarsSyncOperator

    secret = "whsec_9c1b7e2f0a4d"
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, project_ref=emulator.project_ref)
    )
    with DAG("run_logs_secrets", schedule=None):
        sync = TriggerEnvVarsSyncOperator(
            task_id="sync", variables={"WEBHOOK_SECRET": secret, "REGION": "eu"}, secret_names=["*_SECRET"]
        )
    task, context, _ = start_try(sync)
    task.execute(context)
    emulator.state.set_task(
        TaskBehaviour(
            "etl", duration=0.2, fail="bad signature", logs=[("info", f"verifying with {secret} in eu")]
        )
    )
    task, context, _ = start_try(operator())
    with pytest.raises(TriggerRunFailedError):
        task.execute(context)
    assert task_log.count("INFO  [attempt 1] verifying with *** in eu") == 1
    assert task_log.count(secret) == 0
