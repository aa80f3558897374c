"""TriggerTaskOperator against the real emulator, one try at a time with a real Airflow task instance."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.exceptions import (
    TriggerRunCanceledError,
    TriggerRunFailedError,
    TriggerWaitTimeoutError,
)
from airflow_provider_trigger.operators.tasks import TriggerTaskOperator
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger
from tests.airflow_compat import AirflowException, TaskDeferred
from tests.task_runtime import DAG_RUN_ID, connection_env, start_try
from tests.task_states import task_state

DAG_ID = "trigger_task_tests"


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


def make_operator(**kwargs: Any) -> TriggerTaskOperator:
    kwargs = {"task_id": "run_task", "task_identifier": "hello-world", "poll_interval": 0.05, **kwargs}
    with DAG(DAG_ID, schedule=None):
        return TriggerTaskOperator(**kwargs)


def run_try(operator: TriggerTaskOperator, **try_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """One try: ``(return value, xcoms pushed)``."""
    task, context, ti = start_try(operator, **try_kwargs)
    return task.execute(context), ti.xcoms


def runs_of(emulator: EmulatorServer, task: str = "hello-world") -> list[Any]:
    return [run for run in emulator.state.runs.values() if run.task == task]


def test_triggers_waits_and_returns_the_output(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", output=lambda p: {"greeting": f"hi {p['name']}"}))

    output, xcoms = run_try(make_operator(payload={"name": "{{ ti.task_id }}"}))

    assert output == {"greeting": "hi run_task"}
    [run] = runs_of(emulator)
    assert xcoms["run_id"] == run.id
    assert xcoms["run_url"] == f"{emulator.base_url}/runs/{run.id}"
    assert run.idempotency_key_user == f"airflow/{DAG_ID}/run_task/{DAG_RUN_ID}/-1"


def test_without_waiting_returns_the_run_id_at_once(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))

    run_id, xcoms = run_try(make_operator(wait_for_completion=False, tags=["airflow"], metadata={"a": 1}))

    assert run_id == xcoms["run_id"]
    assert emulator.state.run_status(run_id) in {"QUEUED", "EXECUTING"}
    assert emulator.state.runs[run_id].tags == ["airflow"]


@pytest.mark.parametrize(
    ("behaviour", "status", "message"),
    [
        (TaskBehaviour("hello-world", fail="disk full"), "FAILED", "disk full"),
        # Production shows internal errors only by code (core/v3/errors.ts createJsonErrorObject).
        (
            TaskBehaviour("hello-world", outcome="CRASHED", error="segfault"),
            "CRASHED",
            "trigger.dev internal error (TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE)",
        ),
        (
            TaskBehaviour("hello-world", outcome="SYSTEM_FAILURE", error="TASK_RUN_HEARTBEAT_TIMEOUT"),
            "SYSTEM_FAILURE",
            "trigger.dev internal error (TASK_RUN_HEARTBEAT_TIMEOUT)",
        ),
        (
            TaskBehaviour("hello-world", outcome="TIMED_OUT"),
            "TIMED_OUT",
            "trigger.dev internal error (MAX_DURATION_EXCEEDED)",
        ),
    ],
)
def test_failure_statuses_fail_with_message_and_url(
    emulator: EmulatorServer, behaviour: TaskBehaviour, status: str, message: str
) -> None:
    emulator.state.set_task(behaviour)

    with pytest.raises(TriggerRunFailedError) as excinfo:
        run_try(make_operator())

    [run] = runs_of(emulator)
    assert excinfo.value.status == status
    assert status in str(excinfo.value)
    assert message in str(excinfo.value)
    assert f"{emulator.base_url}/runs/{run.id}" in str(excinfo.value)


def test_expired_run_fails(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", queue_time=30))

    with pytest.raises(TriggerRunFailedError, match="EXPIRED"):
        run_try(make_operator(ttl=1))


def test_each_status_change_is_logged_once_with_the_url(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=0.4, queue_time=0.2))
    _, xcoms = run_try(make_operator(poll_interval=0.02))

    url = f"{emulator.base_url}/runs/{xcoms['run_id']}"
    lines = [line for line in capsys.readouterr().out.splitlines() if "Trigger.dev run run_" in line]
    assert [line.split(" is ")[1].split(":")[0] for line in lines] == ["QUEUED", "EXECUTING", "COMPLETED"]
    assert all(url in line for line in lines)


def test_retry_after_a_crash_reattaches_to_the_same_run(emulator: EmulatorServer) -> None:
    """Try 1 dies while waiting (its wait times out); try 2 finds the run through the idempotency key."""
    emulator.state.set_task(TaskBehaviour("hello-world", duration=1.0))
    operator = make_operator(payload={"n": 1})
    xcoms: dict[str, Any] = {}

    crashed = operator.prepare_for_execution()
    crashed.timeout = 0.1
    with pytest.raises(TriggerWaitTimeoutError, match="keeps going"):
        run_try(crashed, try_number=1, xcoms=xcoms)
    first_run_id = xcoms["run_id"]

    output, _ = run_try(operator, try_number=2, xcoms=xcoms)

    assert output == {"n": 1}
    assert [run.id for run in runs_of(emulator)] == [first_run_id]
    assert xcoms["run_id"] == first_run_id


def test_retry_after_a_failed_run_starts_a_new_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", fail="flaky"))
    operator = make_operator(payload={"n": 2})
    with pytest.raises(TriggerRunFailedError):
        run_try(operator, try_number=1)

    emulator.state.set_task(TaskBehaviour("hello-world"))
    output, _ = run_try(operator, try_number=2)

    assert output == {"n": 2}
    assert len(runs_of(emulator)) == 2


def test_without_idempotency_key_every_try_starts_a_run(emulator: EmulatorServer) -> None:
    operator = make_operator(idempotency_key=None)
    run_try(operator, try_number=1)
    run_try(operator, try_number=2)

    runs = runs_of(emulator)
    assert len(runs) == 2
    assert all(run.idempotency_key is None for run in runs)


def _kill_while_waiting(task: Any, context: dict[str, Any], ti: Any) -> threading.Thread:
    """Run the try in a thread, call ``on_kill`` once the run is published, as Airflow's SIGTERM does;
    the thread (the try, which may go on waiting) is returned for the test to join."""
    outcome: dict[str, BaseException] = {}

    def execute() -> None:
        try:
            task.execute(context)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=execute, daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while "run_id" not in ti.xcoms and time.monotonic() < deadline:
        time.sleep(0.01)
    task.on_kill()
    return worker


def test_on_kill_after_a_person_marked_the_task_failed_cancels_the_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=30))
    task, context, ti = start_try(make_operator())

    with task_state("failed") as supervisor:  # the task instance's state, as the API server has it
        _kill_while_waiting(task, context, ti).join(10)

    run_id = ti.xcoms["run_id"]
    assert supervisor.asked[0].task_ids == ["run_task"]
    assert emulator.state.run_status(run_id) == "CANCELED"


@pytest.mark.parametrize("state", ["running", "unknown"])
def test_on_kill_from_an_eviction_leaves_the_run_and_the_retry_resumes_it(
    emulator: EmulatorServer, state: str
) -> None:
    """SIGTERM from a pod eviction or a deploy also calls on_kill: the task is still running (or its
    state cannot be read): the run goes on, and the next try re-attaches to it."""
    emulator.state.set_task(TaskBehaviour("hello-world", duration=2))
    task, context, ti = start_try(make_operator(payload={"n": 1}))

    if state == "unknown":  # no supervisor to ask
        first_try = _kill_while_waiting(task, context, ti)
    else:
        with task_state(state):
            first_try = _kill_while_waiting(task, context, ti)

    run_id = ti.xcoms["run_id"]
    assert emulator.state.run_status(run_id) != "CANCELED"
    first_try.join(10)  # the killed try's wait went on, as a process would until Airflow kills it
    retry, _ = run_try(make_operator(payload={"n": 1}), try_number=2)
    assert [run.id for run in runs_of(emulator)] == [run_id]
    assert retry == {"n": 1}


def test_deferrable_defers_then_resumes_with_the_output(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=0.3))
    task, context, ti = start_try(make_operator(payload={"x": 1}, deferrable=True, timeout=60))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, TriggerRunTrigger)
    assert trigger.run_id == ti.xcoms["run_id"]
    assert deferred.value.method_name == "execute_complete"
    assert trigger.end_time is not None and trigger.end_time > time.time()
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "success"

    resumed, resumed_context, _ = start_try(make_operator(payload={"x": 1}, deferrable=True))
    assert resumed.execute_complete(resumed_context, event) == {"x": 1}


def test_deferrable_skips_deferral_when_the_run_is_already_finished(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("hello-world", duration=0, queue_time=0))

    output, _ = run_try(make_operator(payload=[1, 2], deferrable=True))

    assert output == [1, 2]


@pytest.mark.parametrize("event", [None, {}, {"status": "weird", "run_id": "run_x"}, {"status": "success"}])
def test_execute_complete_rejects_bad_events(event: Any) -> None:
    task, context, _ = start_try(make_operator(deferrable=True))
    with pytest.raises(AirflowException, match="Unexpected event"):
        task.execute_complete(context, event)


@pytest.mark.parametrize(
    ("event", "error", "text"),
    [
        (
            {"status": "failed", "run_id": "run_a", "run_status": "CRASHED", "message": "oom"},
            TriggerRunFailedError,
            "oom",
        ),
        (
            {"status": "failed", "run_id": "run_a", "run_status": "CANCELED", "message": "x"},
            TriggerRunCanceledError,
            "x",
        ),
        (
            {"status": "timeout", "run_id": "run_a", "run_status": "QUEUED", "message": "late"},
            TriggerWaitTimeoutError,
            "late",
        ),
        (
            {"status": "error", "run_id": "run_a", "run_status": None, "message": "boom"},
            AirflowException,
            "boom",
        ),
    ],
)
def test_execute_complete_fails_with_the_run_url(
    emulator: EmulatorServer, event: dict[str, Any], error: type[Exception], text: str
) -> None:
    task, context, _ = start_try(make_operator(deferrable=True))
    with pytest.raises(error) as excinfo:
        task.execute_complete(context, event)
    assert text in str(excinfo.value)
    assert f"{emulator.base_url}/runs/run_a" in str(excinfo.value)


def test_bad_input_fails_before_any_request(emulator: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="task_identifier must be a non-empty string"):
        make_operator(task_identifier="")
    with pytest.raises(ValueError, match="payload must be JSON-serialisable"):
        run_try(make_operator(payload={"when": {1, 2}}))
    with pytest.raises(ValueError, match="task_identifier must be a non-empty string"):
        run_try(make_operator(task_identifier="{{ params.get('missing', '') }}"))
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        make_operator(timeout=-1)
    with pytest.raises(ValueError, match=r"unknown trigger option.*bogus"):
        run_try(make_operator(trigger_options={"bogus": 1}))
    assert not [r for r in emulator.requests if "/tasks/" in r.path]


def test_unknown_task_is_named_in_the_error(emulator: EmulatorServer) -> None:
    emulator.state.config.strict_tasks = True
    with pytest.raises(AirflowException, match="'no-such-task' was not found in the dev environment"):
        run_try(make_operator(task_identifier="no-such-task"))


async def _first_event(trigger: TriggerRunTrigger) -> dict[str, Any]:
    event = await anext(trigger.run())
    return dict(event.payload)
