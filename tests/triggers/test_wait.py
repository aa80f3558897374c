"""Status decisions shared by every wait: client-side sets, one log line per change, unknown statuses."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_trigger.client import Run
from airflow_provider_trigger.triggers.engine.statuses import FAILURE, RunWatch, check_statuses, error_message


def watch_of(caplog: pytest.LogCaptureFixture) -> RunWatch:
    caplog.set_level(logging.INFO, logger="wait-test")
    return RunWatch("run_1", url="http://dash/runs/run_1", log=logging.getLogger("wait-test"))


def test_terminal_statuses_are_decided_client_side_not_by_is_completed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = watch_of(caplog)
    # The API's isCompleted is false for EXPIRED and TIMED_OUT: the wait must still end.
    assert watch.outcome(Run(id="run_1", status="EXPIRED", isCompleted=False)) == "failed"
    assert watch.outcome(Run(id="run_1", status="TIMED_OUT", isCompleted=False)) == "failed"
    assert watch.outcome(Run(id="run_1", status="COMPLETED")) == "success"
    assert watch.outcome(Run(id="run_1", status="EXECUTING", isCompleted=True)) is None
    assert {"CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"} <= FAILURE


def test_each_change_is_logged_once_and_unknown_statuses_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    watch = watch_of(caplog)
    for status in ["QUEUED", "QUEUED", "HIBERNATING", "HIBERNATING", "EXECUTING", "HIBERNATING"]:
        assert watch.outcome(Run(id="run_1", status=status)) is None

    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert infos == [
        "Trigger.dev run run_1 is QUEUED: http://dash/runs/run_1",
        "Trigger.dev run run_1 is HIBERNATING: http://dash/runs/run_1",
        "Trigger.dev run run_1 is EXECUTING: http://dash/runs/run_1",
        "Trigger.dev run run_1 is HIBERNATING: http://dash/runs/run_1",
    ]
    assert len(warnings) == 1
    assert "'HIBERNATING'" in warnings[0]


def test_error_message_names_the_error() -> None:
    run = Run(id="run_1", status="CRASHED", error={"name": "TaskCrashed", "message": "out of memory"})
    assert error_message(run) == "TaskCrashed: out of memory"
    assert error_message(Run(id="run_1", status="FAILED")) == "no error message"


@pytest.mark.parametrize(
    ("target", "failure", "problem"),
    [((), ("FAILED",), "at least one"), (("COMPLETED",), ("COMPLETED", "FAILED"), "both")],
)
def test_status_sets_are_checked(target: tuple[str, ...], failure: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_statuses(target, failure)
