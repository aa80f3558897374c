"""What each Airflow 3.3-only feature does on an older 3.x minor: a warning or an error naming both
versions (README "Supported Airflow versions"), never silence. Run on every minor by scripts/matrix;
checks that must stay quiet on 3.3 run there too.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators import TriggerEnvVarsSyncOperator, TriggerTaskOperator
from tests.airflow_compat import AIRFLOW_V_3_3_PLUS, AIRFLOW_VERSION_TEXT, TaskDeferred, only_below_3_3
from tests.task_runtime import connection_env, start_try

NEEDS_3_3 = f"needs Airflow 3.3 or later; this is Airflow {AIRFLOW_VERSION_TEXT}"


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


def make_operator(**kwargs: Any) -> TriggerTaskOperator:
    kwargs = {"task_id": "ingest", "task_identifier": "ingest", "poll_interval": 0.05, **kwargs}
    with DAG("older_airflow_tests", schedule=None):
        return TriggerTaskOperator(wait_mode="poll", **kwargs)


@only_below_3_3("durable")
def test_durable_warns_that_it_has_no_effect_and_the_task_still_runs(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("ingest", output={"rows": 1}))
    with pytest.warns(UserWarning, match="`durable` has no effect on Airflow versions below 3.3"):
        operator = make_operator(durable=True)
    task, context, _ = start_try(operator)
    assert task.execute(context) == {"rows": 1}  # every try triggers (the idempotency key re-attaches)


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_deferring_says_when_a_kill_cannot_cancel_the_run(
    emulator: EmulatorServer,
    cancel_on_kill: bool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Below 3.3 the triggerer never calls a trigger's on_kill: deferring with cancel_on_kill warns."""
    emulator.state.set_task(TaskBehaviour("ingest", duration=30))
    task, context, _ = start_try(make_operator(deferrable=True, cancel_on_kill=cancel_on_kill))
    with pytest.raises(TaskDeferred):
        task.execute(context)
    logged = caplog.text + capsys.readouterr().out
    expected = cancel_on_kill and not AIRFLOW_V_3_3_PLUS
    assert (f"Canceling the run when a deferred task is killed (trigger on_kill) {NEEDS_3_3}" in logged) is (
        expected
    )


@only_below_3_3("airflow_variable_prefix")
def test_the_variables_source_is_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match=f"airflow_variable_prefix .* {NEEDS_3_3}"):
        TriggerEnvVarsSyncOperator(
            task_id="sync", project_ref="proj_x", environment="dev", airflow_variable_prefix="env__"
        )
