"""The example deployment DAG, run twice with ``dag.test()`` against the emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from tests.airflow_compat import AIRFLOW_VERSION_TEXT, needs_airflow_3_3, only_below_3_3

EXAMPLE = Path(__file__).parents[1] / "system" / "example_deployment.py"
PREFIX = "airflow/example_deployment/"


def _load_bag(dags_folder: Path) -> Any:
    from tests.airflow_compat import DagBag

    target = dags_folder / "deployment"
    target.mkdir(exist_ok=True)
    for source in (EXAMPLE, EXAMPLE.with_suffix(".env")):
        shutil.copy(source, target / source.name)
    return DagBag(dag_folder=str(target))


def _load_dag(dags_folder: Path) -> Any:
    bag = _load_bag(dags_folder)
    assert bag.import_errors == {}
    return bag.get_dag("example_trigger_deployment")


@only_below_3_3("airflow_variable_prefix")
def test_below_airflow_3_3_the_deployment_dag_fails_to_parse_naming_the_version(dags_folder: Path) -> None:
    """Its Airflow Variables source cannot list Variables there: the DAG file's import error says so."""
    [error] = _load_bag(dags_folder).import_errors.values()
    assert (
        "airflow_variable_prefix (listing Variables, Variable.keys) needs Airflow 3.3 or later; "
        f"this is Airflow {AIRFLOW_VERSION_TEXT}"
    ) in error


def _rendered_fields(run_id: str) -> list[Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(RenderedTaskInstanceFields).filter_by(run_id=run_id, task_id="sync_env_vars").all()
        )
        assert rows, "the rendered template fields were not stored"
        return [row.rendered_fields for row in rows]


def _envvar_writes(emulator: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET" and "/envvars/" in r.path]


def _schedule_writes(emulator: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET" and "/schedules" in r.path]


@needs_airflow_3_3("The example deployment DAG's Airflow Variables source (airflow_variable_prefix)")
def test_deployment_dag_syncs_then_a_second_run_writes_nothing(
    airflow_db: Path,
    dags_folder: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.variable import Variable

    conn = {
        "conn_type": "trigger",
        "host": emulator.base_url,
        "password": emulator.secret_key,
        "extra": {"project_ref": emulator.project_ref},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", json.dumps(conn))
    secret = "sk_live_deploy_dag_secret_42"
    Variable.set("stripe_api_key", secret)
    Variable.set("trigger_env__CACHE_TTL", "300")
    emulator.state.set_task(TaskBehaviour("legacy-import", duration=600))
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as client:
        client.envvars.create(emulator.project_ref, "dev", "DROPPED_SETTING", "x")  # to be pruned
        client.schedules.create(task="old-task", cron="0 0 * * *", deduplication_key=PREFIX + "old")
        legacy_run = client.tasks.trigger("legacy-import", {}, delay="1h").id

    dag = _load_dag(dags_folder)
    try:
        first = dag.test()
        assert first.state == "success"

        with emulator.state.lock:
            stored = dict(emulator.state.stores.envvars[emulator.state.env("dev").id])
            schedules = {s.deduplication_key: s for s in emulator.state.stores.schedules.values()}
        assert {name: (v.value, v.is_secret) for name, v in stored.items()} == {
            "LOG_LEVEL": ("info", False),
            "REGION": ("eu-west-1", False),
            "FEATURE_NEW_CHECKOUT": ("on", False),
            "CACHE_TTL": ("300", False),
            "RELEASE": ("unreleased", False),
            "STRIPE_API_KEY": (secret, True),
        }
        assert sorted(schedules) == [PREFIX + "daily-digest", PREFIX + "sync-crm"]
        assert schedules[PREFIX + "daily-digest"].timezone == "Europe/London"
        assert emulator.state.run_status(legacy_run) == "CANCELED"
        captured = capsys.readouterr()
        assert "STRIPE_API_KEY" in captured.out + captured.err
        assert secret not in captured.out + captured.err
        assert secret not in json.dumps(_rendered_fields(first.run_id), default=str)

        emulator.state.requests.clear()
        second = dag.test()
        assert second.state == "success"
        assert _envvar_writes(emulator) == []
        assert _schedule_writes(emulator) == []
    finally:
        Variable.delete("stripe_api_key")
        Variable.delete("trigger_env__CACHE_TTL")
