"""The errors a Trigger.dev task, sensor or wait ends in: import them from here in DAGs and callbacks."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

CANCELED = "CANCELED"


class TriggerRunFailedError(AirflowException):
    """A run ended in a failure status; an Airflow retry starts a new run (the server cleared its key)."""

    def __init__(self, message: str, *, run_id: str, status: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status


class TriggerRunCanceledError(AirflowFailException):
    """A run was canceled in Trigger.dev: someone decided it should stop, so the task is not retried."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = CANCELED


class TriggerWaitTimeoutError(AirflowException):
    """The wait's ``timeout`` passed before the run finished; the run keeps going (a retry re-attaches)."""


class TriggerWaitError(AirflowException):
    """The wait could not go on: a permanent API error (401/403, a deleted run, a misconfigured
    connection) or a broken batch. Never a soft-fail skip: it is not a verdict on the run."""


__all__ = [
    "TriggerRunCanceledError",
    "TriggerRunFailedError",
    "TriggerWaitError",
    "TriggerWaitTimeoutError",
]
