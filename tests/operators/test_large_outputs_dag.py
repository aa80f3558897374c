"""Offloaded outputs end to end through ``dag.test()``: a 300 KB output arrives whole in XCom on every
path (task operator worker-side and deferred, sensor poking and deferred, batch), an output too large
for XCom fails clearly, and a presigned URL that fails names the run and host, never the signature."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.emulator.packets import OUTPUT_OFFLOAD_BYTES
from tests.task_runtime import connection_env

BIG = {"rows": [{"i": i, "text": "t" * 90} for i in range(3000)]}  # ~300 KB of JSON
BIG_SIZE = len(json.dumps(BIG, separators=(",", ":")))
BIG_SHA = hashlib.sha256(json.dumps(BIG, sort_keys=True).encode()).hexdigest()

DAG = textwrap.dedent(
    """
    from __future__ import annotations

    import hashlib
    import json
    from datetime import datetime

    from airflow.sdk import dag, task

    from airflow_provider_trigger.operators import TriggerBatchOperator, TriggerTaskOperator
    from airflow_provider_trigger.sensors import TriggerRunSensor


    @dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
    def large_outputs() -> None:
        worker = TriggerTaskOperator(task_id="worker", task_identifier="big", poll_interval=0.2)
        deferred = TriggerTaskOperator(
            task_id="deferred", task_identifier="big", deferrable=True, poll_interval=0.2
        )
        started = TriggerTaskOperator(
            task_id="started", task_identifier="big", wait_for_completion=False
        )
        poked = TriggerRunSensor(
            task_id="poked",
            run_id="{{ ti.xcom_pull(task_ids='started', key='run_id') }}",
            poke_interval=0.2,
            timeout=60,
        )
        sensed = TriggerRunSensor(
            task_id="sensed",
            run_id="{{ ti.xcom_pull(task_ids='started', key='run_id') }}",
            deferrable=True,
            poke_interval=0.2,
            timeout=60,
        )
        batch = TriggerBatchOperator(
            task_id="batch", task_identifier="big", payloads=[{"n": 1}], poll_interval=0.2
        )

        @task
        def digest(value: dict) -> str:
            return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()

        for upstream in (worker, deferred, poked, sensed):
            digest.override(task_id=f"digest_{upstream.task_id}")(upstream.output)
        started >> [poked, sensed]
        batch


    large_outputs()
    """
)


@pytest.fixture
def run_dag(
    dags_folder: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> Callable[[], Any]:
    from tests.airflow_compat import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    emulator.state.set_task(TaskBehaviour("big", duration=0.5, output=BIG))

    def run() -> Any:
        path = dags_folder / "large_outputs.py"
        path.write_text(DAG)
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag("large_outputs").test()

    return run


def _xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    [ti] = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id, key=key)


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_300_kb_output_arrives_whole_in_xcom_on_every_path(
    run_dag: Callable[[], Any],
    emulator: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert BIG_SIZE > 2 * OUTPUT_OFFLOAD_BYTES
    dag_run = run_dag()
    assert dag_run.state == "success", _states(dag_run)
    for task_id in ("worker", "deferred", "poked", "sensed"):
        assert _xcom(dag_run, task_id) == BIG, task_id
        assert _xcom(dag_run, f"digest_{task_id}") == BIG_SHA, task_id  # what a downstream task saw
    assert _xcom(dag_run, "batch")["outputs"] == [BIG]
    assert emulator.requests.filter("GET", "/objects/packets/")  # the outputs really were offloaded
    for request in emulator.requests.filter("GET", "/objects/"):
        assert "authorization" not in {k.lower() for k in request.headers}
    log = _ours(capsys, caplog)
    assert "X-Amz-Signature" not in log and emulator.secret_key not in log


def test_an_output_too_large_for_xcom_fails_naming_its_size(
    run_dag: Callable[[], Any],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AIRFLOW__TRIGGER__XCOM_MAX_BYTES", str(200 * 1024))
    dag_run = run_dag()
    states = _states(dag_run)
    assert dag_run.state == "failed"
    assert states["worker"] == "failed" and states["deferred"] == "failed" and states["batch"] == "failed"
    assert states["digest_worker"] == "upstream_failed"
    captured = capsys.readouterr()
    log = captured.out + captured.err + caplog.text
    assert f"is {BIG_SIZE / 1024:.1f} KiB as JSON, more than the 200.0 KiB" in log
    assert "XComObjectStorageBackend" in log and "AIRFLOW__TRIGGER__XCOM_MAX_BYTES" in log


def test_a_failing_presigned_url_fails_the_task_naming_run_and_host(
    run_dag: Callable[[], Any],
    emulator: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.state.faults.inject("GET", "/objects/*", 403, count=None)
    dag_run = run_dag()
    states = _states(dag_run)
    assert dag_run.state == "failed"
    assert states["worker"] == "failed" and states["poked"] == "failed"
    log = _ours(capsys, caplog)
    host = urlsplit(emulator.base_url).netloc
    worker_run = next(r.id for r in emulator.state.runs.values())
    assert "PacketError" in log and host in log and worker_run in log
    assert "X-Amz-Signature" not in log and emulator.secret_key not in log


def _ours(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged, less Airflow 3.0's own supervisor debug lines, which print every
    ``MaskSecret(value=…)`` request in clear (Airflow's behaviour, not the provider's)."""
    captured = capsys.readouterr()
    lines = (captured.out + captured.err + caplog.text).splitlines()
    return "\n".join(line for line in lines if "MaskSecret(" not in line)
