"""The chaos scenarios against a real deployment: counts and states only (timings: the benchmark)."""

from __future__ import annotations

from . import scenarios
from .harness import Deployment


def test_every_example_dag_runs_through_scheduler_workers_and_triggerers(deployment: Deployment) -> None:
    outcome = scenarios.every_example(deployment)

    assert set(outcome.details["dag_runs"].values()) == {"success"}, outcome.details
    assert set(outcome.details["dag_runs"]) == {*scenarios.EXAMPLES, *scenarios.DOWNSTREAM}
    assert outcome.successes == outcome.tasks > 0
    # the deferrable tasks really went through the triggerer
    assert outcome.details["deferred"] and all(outcome.details["deferred"].values()), outcome.details
    assert outcome.cancelled_runs == 0


def test_a_killed_triggerers_waits_are_adopted(deployment: Deployment) -> None:
    outcome = scenarios.triggerer_killed(deployment)

    assert outcome.details["triggers_on_killed"] > 0
    assert outcome.successes == outcome.tasks == 8 + 1, outcome.details  # 8 waits and their payloads
    assert outcome.duplicate_runs == 0 and outcome.cancelled_runs == 0, outcome.details


def test_a_stalled_triggerer_cancels_nothing(deployment: Deployment) -> None:
    outcome = scenarios.triggerer_stalled(deployment)

    assert outcome.details["reassigned"], outcome.details
    assert outcome.successes == outcome.tasks == 8 + 1, outcome.details
    assert outcome.duplicate_runs == 0 and outcome.cancelled_runs == 0, outcome.details


def test_a_terminated_worker_resumes_the_same_run(deployment: Deployment) -> None:
    outcome = scenarios.worker_terminated(deployment)

    assert outcome.details["try_number"] == 2, outcome.details
    assert outcome.successes == outcome.tasks == 1, outcome.details
    assert outcome.duplicate_runs == 0 and outcome.cancelled_runs == 0, outcome.details


def test_marking_a_deferred_task_failed_cancels_its_run(deployment: Deployment) -> None:
    outcome = scenarios.user_marks_failed(deployment)

    assert outcome.details["dag_run"] == "failed"
    assert outcome.cancelled_runs == 1 and outcome.duplicate_runs == 0, outcome.details


def test_the_watcher_announces_each_run_once_across_a_triggerer_restart(deployment: Deployment) -> None:
    outcome = scenarios.watcher_restarted(deployment, count=6)

    assert outcome.details["killed"] is not None
    # exactly one asset event per completed run: none lost while the watcher was down, none twice
    assert outcome.lost_events == 0 and outcome.duplicate_runs == 0, outcome.details
    assert outcome.details["asset_events"] == 6
    # Airflow turns them into DAG runs (several events queued together make one run); each succeeds
    assert outcome.details["dag_runs"] >= 1
    assert outcome.successes == outcome.tasks == outcome.details["dag_runs"]


def test_waits_survive_an_api_outage(deployment: Deployment) -> None:
    waits = 40
    outcome = scenarios.emulator_outage(deployment, waits=waits, outage=60)

    assert outcome.successes == outcome.tasks == waits + 1, outcome.details
    assert outcome.duplicate_runs == 0 and outcome.cancelled_runs == 0, outcome.details
