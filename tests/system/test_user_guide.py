"""The README's "Using the emulator in your own DAG tests" example: a user's own DAG test.

The README shows the part from ``import pytest`` on, verbatim; ``dag_file`` is this repository's way
to put the DAG in the configured dags folder (in a user's project the DAG is already there).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour


@pytest.fixture
def dag_file(dags_folder: Path, airflow_db: Path) -> Path:
    return Path(shutil.copy(Path(__file__).with_name("example_trigger_task.py"), dags_folder))


@pytest.fixture
def trigger_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    with EmulatorServer() as emulator:
        monkeypatch.setenv(
            "AIRFLOW_CONN_TRIGGER_DEFAULT",
            f'{{"conn_type": "trigger", "host": "{emulator.base_url}", "password": "{emulator.secret_key}"}}',
        )
        yield emulator


def test_a_failed_run_fails_the_dag(trigger_dev: EmulatorServer, dag_file: Path) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.0 and 3.1

    trigger_dev.state.set_task(TaskBehaviour("hello-world", fail="no greeting today"))
    dag_run = DagBag(dag_folder=str(dag_file)).get_dag("example_trigger_task").test()

    assert dag_run.state == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["hello"] == "failed" and states["report"] == "upstream_failed"
    assert {trigger_dev.state.run_status(run_id) for run_id in trigger_dev.state.runs} == {"FAILED"}
