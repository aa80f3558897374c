"""Figure 4: no key and no secret env-var value leaks anywhere Airflow keeps or shows task data.

Every example DAG (``tests/system/example_*.py``) and a DAG using every other operator run with
``dag.test()`` against the emulator, with a recognisable key in the connection and canary values
for the secret env vars. Then every place a secret could end up is searched for the canaries:
task logs (stdout, logging, log files), XComs, rendered template fields, stored trigger kwargs,
exception texts of failing calls and the reprs of the hook, client and operators: 0 occurrences.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from tests.airflow_compat import needs_airflow_3_3
from tests.task_runtime import connection_env

EXAMPLES = Path(__file__).parents[1] / "system"
STRIPE_CANARY = "sk_live_CANARYstripe7Qz9"
WEBHOOK_CANARY = "whsec_CANARYwebhook3Xk1"
OPERATORS_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_trigger.operators import (
    TriggerCancelRunOperator, TriggerDeleteScheduleOperator, TriggerEnvVarsSyncOperator,
    TriggerReplayRunOperator, TriggerRescheduleRunOperator, TriggerScheduleOperator, TriggerTaskOperator,
)

with DAG("reliability_every_operator", schedule=None, start_date=datetime(2026, 1, 1)):
    secrets = TriggerEnvVarsSyncOperator(
        task_id="secrets",
        variables={"WEBHOOK_SECRET": "{{ var.value.webhook_secret }}", "MODE": "live"},
        secret_names=["WEBHOOK_SECRET"],
        environment="dev",
    )
    delayed = TriggerTaskOperator(
        task_id="delayed", task_identifier="hello-world", delay="1h", wait_for_completion=False
    )
    waited = TriggerTaskOperator(
        task_id="waited", task_identifier="hello-world", payload={"n": 1}, deferrable=True, poll_interval=0.2
    )
    reschedule = TriggerRescheduleRunOperator(
        task_id="reschedule", run_id="{{ ti.xcom_pull(task_ids='delayed', key='run_id') }}", delay="2h"
    )
    replay = TriggerReplayRunOperator(
        task_id="replay", run_id="{{ ti.xcom_pull(task_ids='waited', key='run_id') }}"
    )
    cancel = TriggerCancelRunOperator(
        task_id="cancel", run_id="{{ ti.xcom_pull(task_ids='delayed', key='run_id') }}"
    )
    schedule = TriggerScheduleOperator(
        task_id="schedule", task="hello-world", cron="0 * * * *", deduplication_key="reliability-leaks"
    )
    unschedule = TriggerDeleteScheduleOperator(task_id="unschedule", deduplication_key="reliability-leaks")
    secrets >> delayed >> waited >> reschedule >> replay >> cancel >> schedule >> unschedule
"""


@pytest.fixture
def canaries(emulator: EmulatorServer) -> list[str]:
    return [*emulator.keys.values(), emulator.pat, STRIPE_CANARY, WEBHOOK_CANARY]


@pytest.fixture
def leak_env(
    dags_folder: Path,
    airflow_db: Path,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorServer,
) -> Iterator[Path]:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator, project_ref=emulator.project_ref)
    )
    monkeypatch.setenv("AIRFLOW_VAR_STRIPE_API_KEY", STRIPE_CANARY)
    monkeypatch.setenv("AIRFLOW_VAR_WEBHOOK_SECRET", WEBHOOK_CANARY)
    emulator.state.set_task(TaskBehaviour("hello-world", duration=0.3))
    emulator.state.set_task(TaskBehaviour("daily-digest"))
    emulator.state.set_task(TaskBehaviour("sync-crm"))
    emulator.state.set_task(TaskBehaviour("legacy-import"))
    emulator.state.set_task(TaskBehaviour("publish-report", wait_for_token="tokenId"))  # example_waitpoints
    yield dags_folder


def _dag_files(folder: Path) -> list[Path]:
    copies = [Path(shutil.copy(path, folder)) for path in sorted(EXAMPLES.glob("example_*.py"))]
    for extra in EXAMPLES.glob("example_*.env"):
        shutil.copy(extra, folder)
    operators = folder / "reliability_every_operator.py"
    operators.write_text(OPERATORS_DAG)
    return [*copies, operators]


def _stored(dag_id: str) -> list[Any]:
    """What the metadata DB keeps for a DAG: XComs, rendered template fields, trigger kwargs."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = [row.value for row in session.query(XComModel).filter(XComModel.dag_id == dag_id)]
        rendered = [
            row.rendered_fields
            for row in session.query(RenderedTaskInstanceFields).filter(
                RenderedTaskInstanceFields.dag_id == dag_id
            )
        ]
        triggers = [row.kwargs for row in session.query(Trigger)]
    return [*xcoms, *rendered, *(repr(kwargs) for kwargs in triggers)]


@needs_airflow_3_3("The example deployment DAG's Airflow Variables source (airflow_variable_prefix)")
def test_every_example_dag_and_operator_leaks_nothing(
    leak_env: Path,
    airflow_home: Path,
    emulator: EmulatorServer,
    canaries: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.airflow_compat import DagBag

    caplog.set_level(logging.DEBUG)
    stored: list[Any] = []
    ran: dict[str, str] = {}
    for path in _dag_files(leak_env):
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        for dag_id, dag in bag.dags.items():
            dag_run = dag.test(run_conf={"release": "r1"})
            ran[dag_id] = str(dag_run.state)
            stored += _stored(dag_id)
            for ti in dag_run.get_task_instances():
                stored.append(repr(ti.task) if getattr(ti, "task", None) else "")

    captured = capsys.readouterr()
    logs = [captured.out, captured.err, caplog.text]
    logs += [p.read_text(errors="replace") for p in (airflow_home / "logs").rglob("*") if p.is_file()]
    haystack = "\n".join(logs) + json.dumps(stored, default=repr)

    assert ran and set(ran.values()) == {"success"}, ran
    assert len(ran) >= 4  # the three example DAGs and the every-operator DAG
    # the secrets really went through: the canary values were written to Trigger.dev as secrets
    values = {name: v for env in emulator.state.stores.envvars.values() for name, v in env.items()}
    assert values["STRIPE_API_KEY"].value == STRIPE_CANARY and values["STRIPE_API_KEY"].is_secret
    assert values["WEBHOOK_SECRET"].value == WEBHOOK_CANARY and values["WEBHOOK_SECRET"].is_secret
    # every source was really searched: task logs, XComs, rendered fields (secret values masked there)
    assert "Triggered hello-world: run run_" in haystack and f"{emulator.base_url}/runs/run_" in haystack
    assert '"STRIPE_API_KEY": "***"' in haystack and '"WEBHOOK_SECRET": "***"' in haystack
    assert "STRIPE_API_KEY" in captured.out  # names are logged, values never
    assert {canary: haystack.count(canary) for canary in canaries} == dict.fromkeys(canaries, 0)


def test_exception_texts_and_reprs_leak_nothing(
    emulator: EmulatorServer, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, canaries: list[str]
) -> None:
    import traceback

    from airflow.sdk import DAG

    from airflow_provider_trigger.client import TriggerClient
    from airflow_provider_trigger.hooks import TriggerHook
    from airflow_provider_trigger.operators import TriggerEnvVarsSyncOperator, TriggerTaskOperator
    from tests.task_runtime import start_try

    wrong_key = "tr_dev_CANARYrejectedKey0001"
    foreign_key = "sk_live_CANARYforeignKey0001"
    texts: list[str] = []

    def failure(call: Any) -> None:
        try:
            call()
        except Exception as exc:  # every failure's full text, chained causes included
            texts.append("".join(traceback.format_exception(exc)) + repr(exc))
        else:
            raise AssertionError("expected a failure")

    def execute(conn: str, operator: type[Any], **kwargs: Any) -> Any:
        monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", conn)
        with DAG("reliability_leaks", schedule=None):
            built = operator(task_id="t", **kwargs)
        task, context, _ = start_try(built)
        texts.append(repr(task))
        return task.execute(context)

    good = connection_env(emulator, project_ref=emulator.project_ref)
    rejected = json.dumps({"conn_type": "trigger", "host": emulator.base_url, "password": wrong_key})
    foreign = json.dumps({"conn_type": "trigger", "host": emulator.base_url, "password": foreign_key})
    # the server rejects the key; the key is not a valid one; an env-var import fails part-way
    failure(lambda: execute(rejected, TriggerTaskOperator, task_identifier="hello-world"))
    failure(lambda: execute(foreign, TriggerTaskOperator, task_identifier="hello-world"))
    emulator.faults.inject("POST", "/api/v1/projects/*/envvars/*/import", 500, count=None)
    failure(
        lambda: execute(
            good,
            TriggerEnvVarsSyncOperator,
            variables={"WEBHOOK_SECRET": WEBHOOK_CANARY, "STRIPE_API_KEY": STRIPE_CANARY},
            secret_names=["WEBHOOK_SECRET", "*_API_KEY"],
        )
    )
    assert "Not applied" in texts[-1]  # the partial-failure report names what was not applied
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", good)
    hook = TriggerHook()
    texts += [repr(hook), repr(hook.settings), repr(hook.client), repr(hook.client._config)]
    for key in (*emulator.keys.values(), emulator.pat):
        client = TriggerClient(key, base_url=emulator.base_url, preview_branch="b")
        texts += [repr(client), repr(client._config), repr(client._config.options)]
    failure(lambda: TriggerClient(foreign_key))
    failure(lambda: TriggerClient(emulator.pat, base_url=emulator.base_url).tasks.trigger("t", {}))

    haystack = "\n".join(texts)
    assert "401" in haystack and "Not applied" in haystack
    leaked = {c: haystack.count(c) for c in [*canaries, wrong_key, foreign_key]}
    assert leaked == dict.fromkeys(leaked, 0)
