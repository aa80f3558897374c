"""The runs' own log lines in the Airflow task log, through ``dag.test()``: a failed run's lines and
stack trace for the task operator (worker-side and deferred), the batch operator and the sensor;
streamed lines printed once across polls; secret values masked."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from tests.task_runtime import connection_env

CANARY = "canary-value-4f1d9a"  # registered with mask_secret by an upstream task
LOGS = [
    ("info", "Loading 3 files"),
    ("warn", "file 2 is empty"),
    ("info", "Connecting with key {key} and token " + CANARY),
    ("error", "Could not parse row 17"),
]

DAG = textwrap.dedent(
    """
    from __future__ import annotations

    from datetime import datetime

    from airflow.sdk import dag, task

    from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator
    from airflow_provider_trigger.sensors import TriggerRunSensor


    @dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
    def run_logs() -> None:
        @task
        def register() -> None:
            from airflow.sdk.log import mask_secret

            mask_secret("CANARY")

        worker = TriggerTaskOperator(task_id="worker", task_identifier="etl-fail", poll_interval=0.2)
        deferred = TriggerTaskOperator(
            task_id="deferred", task_identifier="etl-fail", deferrable=True, poll_interval=0.2
        )
        streamed = TriggerTaskOperator(
            task_id="streamed", task_identifier="etl-slow", stream_logs=True, poll_interval=0.2,
            wait_mode="poll",
        )
        batch = TriggerBatchOperator(
            task_id="batch", task_identifier="etl-fail", payloads=[{"n": 1}, {"n": 2}], poll_interval=0.2
        )
        started = TriggerTaskOperator(
            task_id="started", task_identifier="etl-fail", wait_for_completion=False,
            idempotency_key=None,
        )
        sensed = TriggerRunSensor(
            task_id="sensed",
            run_id="{{ ti.xcom_pull(task_ids='started', key='run_id') }}",
            poke_interval=0.2,
            timeout=60,
        )
        register() >> [worker, deferred, streamed, batch, started]
        started >> sensed


    run_logs()
    """
).replace("CANARY", CANARY)


@pytest.fixture
def run_dag(
    dags_folder: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> Callable[[], Any]:
    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    logs = [(level, text.format(key=emulator.secret_key)) for level, text in LOGS]
    failing = TaskBehaviour("etl-fail", duration=0.4, fail="Row 17 is not valid JSON", logs=logs)
    emulator.state.set_task(failing)
    emulator.state.set_task(
        TaskBehaviour("etl-slow", duration=2.0, logs=[("info", f"step {i}") for i in range(8)])
    )

    def run() -> Any:
        path = dags_folder / "run_logs.py"
        path.write_text(DAG)
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag("run_logs").test()

    return run


def _one_handler(log: str) -> str:
    """The task log as one handler wrote it: Airflow 3.0's ``dag.test()`` prints every record twice,
    once as ``[2026-01-01 00:00:00,000] …`` (dropped here, with its continuation lines)."""
    kept, skipping = [], False
    for line in log.splitlines():
        if re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\]", line):
            skipping = True
        elif re.match(r"\[?\d{4}-\d\d-\d\dT", line):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    [ti] = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id, key=key)


def test_the_runs_log_lines_and_stack_trace_reach_the_task_log(
    run_dag: Callable[[], Any],
    emulator: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dag_run = run_dag()
    out = capsys.readouterr().out
    log = _one_handler(out if "---- Trigger.dev run" in out else caplog.text)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {
        "register": "success",
        "worker": "failed",
        "deferred": "failed",
        "streamed": "success",
        "batch": "failed",
        "started": "success",
        "sensed": "failed",
    }
    failed_runs = {
        "worker": [_xcom(dag_run, "worker", "run_id")],
        "deferred": [_xcom(dag_run, "deferred", "run_id")],  # printed by execute_complete
        "batch": _xcom(dag_run, "batch", "run_ids"),  # each failed run of the batch
        "sensed": [_xcom(dag_run, "started", "run_id")],
    }
    for task_id, run_ids in failed_runs.items():
        assert len(run_ids) == (2 if task_id == "batch" else 1) and all(run_ids), task_id
        for run_id in run_ids:
            start = log.index(f"---- Trigger.dev run {run_id} logs ----")
            end = log.index(f"---- end of Trigger.dev run {run_id} logs ----", start)
            section = log[start:end]
            lines = [line for line in section.splitlines() if "[attempt 1]" in line]
            assert [line.split("[attempt 1] ")[1].split(" [airflow")[0] for line in lines] == [
                "Loading 3 files",
                "file 2 is empty",
                "Connecting with key *** and token ***",  # the connection's key, a mask_secret value
                "Could not parse row 17",
                "Error: Row 17 is not valid JSON",
            ], task_id
            assert " WARN  [attempt 1] file 2 is empty" in section
            assert "    at Object.run (file:///app/src/trigger/etl-fail.ts:12:13)" in section  # the stack
            assert log.count(f"---- Trigger.dev run {run_id} logs ----") == 1
    # streamed while waiting (several polls), each line once, then nothing more at the end
    streamed = _xcom(dag_run, "streamed", "run_id")
    for i in range(8):
        assert len(re.findall(rf"INFO  \[attempt 1\] step {i}\b", log)) == 1, i
    assert log.count(f"---- Trigger.dev run {streamed} logs ----") == 1
    polls = emulator.requests.filter("GET", f"/api/v1/runs/{streamed}/events")
    assert len(polls) >= 3  # it really streamed across polls
    # (our lines: Airflow 3.0's own supervisor debug log shows MaskSecret(value=…) in caplog)
    printed = "\n".join(line for line in log.splitlines() if "[attempt " in line or "Trigger.dev" in line)
    assert "Connecting with key *** and token ***" in printed
    assert emulator.secret_key not in printed and CANARY not in printed
