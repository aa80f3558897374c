"""Models: snake_case attributes, unknown fields and statuses tolerated, status sets computed client-side."""

from __future__ import annotations

from airflow_provider_trigger.client import (
    FAILURE_STATUSES,
    SUCCESS_STATUSES,
    TERMINAL_STATUSES,
    Batch,
    BatchStatus,
    Run,
    RunStatus,
    Schedule,
)


def test_terminal_sets() -> None:
    assert {s.value for s in TERMINAL_STATUSES} == {
        "COMPLETED",
        "CANCELED",
        "FAILED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    }
    assert {RunStatus.COMPLETED} == SUCCESS_STATUSES
    assert FAILURE_STATUSES == TERMINAL_STATUSES - SUCCESS_STATUSES


def test_run_parses_camel_case_and_keeps_unknown_fields() -> None:
    run = Run.model_validate(
        {
            "id": "run_1",
            "status": "EXECUTING",
            "taskIdentifier": "t",
            "isCompleted": False,
            "costInCents": 1.5,
            "brandNewField": {"x": 1},
            "createdAt": "2026-01-01T00:00:00.000Z",
        }
    )
    assert run.task_identifier == "t" and run.cost_in_cents == 1.5 and run.is_completed is False
    assert run.status is RunStatus.EXECUTING
    assert run.model_extra == {"brandNewField": {"x": 1}}
    assert run.created_at is not None and run.created_at.year == 2026


def test_unknown_status_is_kept_and_not_terminal() -> None:
    run = Run.model_validate({"id": "run_1", "status": "HIBERNATING"})
    assert run.status == "HIBERNATING" and not run.is_known_status
    assert not run.is_terminal and not run.is_success and not run.is_failed


def test_expired_and_timed_out_are_terminal_even_if_is_completed_is_false() -> None:
    for status in ("EXPIRED", "TIMED_OUT"):
        run = Run.model_validate({"id": "r", "status": status, "isCompleted": False, "isFailed": False})
        assert run.is_terminal and run.is_failed and not run.is_success


def test_canceled_is_a_failure() -> None:
    assert Run.model_validate({"id": "r", "status": "CANCELED"}).is_failed


def test_batch_status_tolerant() -> None:
    assert Batch.model_validate({"id": "b", "status": "COMPLETED"}).status is BatchStatus.COMPLETED
    assert Batch.model_validate({"id": "b", "status": "NEWTHING"}).status == "NEWTHING"


def test_models_accept_snake_case_too() -> None:
    schedule = Schedule(id="sched_1", task="t", deduplication_key="d")
    assert schedule.model_dump(by_alias=True)["deduplicationKey"] == "d"
