"""The operators and the sensor in realtime mode, on a worker and deferred, with real task instances."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.operators.batches import TriggerBatchOperator
from airflow_provider_trigger.operators.tasks import TriggerTaskOperator
from airflow_provider_trigger.sensors.runs import TriggerRunSensor
from airflow_provider_trigger.triggers.engine.realtime import dag_run_tag
from airflow_provider_trigger.triggers.engine.statuses import RunSet, RunWatch
from airflow_provider_trigger.triggers.engine.worker import WorkerWait
from tests.airflow_compat import AirflowFailException, TaskDeferred, import_string
from tests.task_runtime import DAG_RUN_ID, start_try

from .conftest import poll_requests, realtime_requests

DAG_ID = "realtime_waits"
FEED_TAG = dag_run_tag(DAG_ID, DAG_RUN_ID)


def in_dag(cls: type, **kwargs: Any) -> Any:
    with DAG(DAG_ID, schedule=None):
        return cls(**kwargs)


def task_operator(**kwargs: Any) -> TriggerTaskOperator:
    defaults = {"task_id": "run_task", "task_identifier": "rt", "poll_interval": 0.05}
    return in_dag(TriggerTaskOperator, **{**defaults, **kwargs})


def run_deferred_trigger(deferred: TaskDeferred) -> dict[str, Any]:
    """What the triggerer does: rebuild the trigger from its serialised form, run it to its event."""
    classpath, kwargs = deferred.trigger.serialize()
    trigger = import_string(classpath)(**json.loads(json.dumps(kwargs)))

    async def first() -> dict[str, Any]:
        try:
            return dict((await anext(trigger.run())).payload)
        finally:
            await close_async_clients()

    return asyncio.run(first())


def fallback_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if "polling instead" in line]


def test_operator_waits_over_the_run_feed_without_polling(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5, output=lambda p: {"echo": p}))
    task, context, ti = start_try(task_operator(payload=7))

    assert task.execute(context) == {"echo": 7}
    assert poll_requests(emulator) == []
    assert {r.path for r in realtime_requests(emulator)} == {f"/realtime/v1/runs/{ti.xcoms['run_id']}"}
    assert emulator.state.runs[ti.xcoms["run_id"]].tags == []  # no feed tag on a worker wait


def test_operator_falls_back_to_polling_on_429_and_says_so_once(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5, output="done"))
    emulator.state.config.realtime_live_limit = 0
    task, context, _ = start_try(task_operator())

    assert task.execute(context) == "done"
    assert poll_requests(emulator)
    [line] = fallback_lines(capsys)
    assert "RateLimitError: 429" in line


def test_operator_poll_mode_never_opens_a_feed(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2, output=1))
    task, context, _ = start_try(task_operator(wait_mode="poll"))

    assert task.execute(context) == 1
    assert realtime_requests(emulator) == []


def test_wait_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="wait_mode must be 'realtime' or 'poll'"):
        task_operator(wait_mode="push")


def test_deferred_operator_tags_the_run_and_the_trigger_follows_the_tag_feed(
    emulator: EmulatorServer,
) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5, output=lambda p: p))
    task, context, ti = start_try(task_operator(payload={"x": 1}, deferrable=True, tags=["mine"]))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    run_id = ti.xcoms["run_id"]
    assert emulator.state.runs[run_id].tags == ["mine", FEED_TAG]
    _, kwargs = deferred.value.trigger.serialize()
    assert (kwargs["wait_mode"], kwargs["feed_tag"]) == ("realtime", FEED_TAG)
    polls_before = len(poll_requests(emulator))

    event = run_deferred_trigger(deferred.value)

    assert event["status"] == "success" and event["output"] == {"x": 1}
    assert {r.query.get("tags") for r in realtime_requests(emulator)} == {FEED_TAG}
    assert len(poll_requests(emulator)) == polls_before  # the trigger itself never polled
    resumed, resumed_context, _ = start_try(task_operator(payload={"x": 1}, deferrable=True))
    assert resumed.execute_complete(resumed_context, event) == {"x": 1}


def test_deferred_operator_with_ten_tags_follows_the_run_feed(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output=3))
    tags = [f"t{i}" for i in range(10)]
    task, context, ti = start_try(task_operator(deferrable=True, tags=tags))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert emulator.state.runs[ti.xcoms["run_id"]].tags == tags
    assert deferred.value.trigger.serialize()[1]["feed_tag"] is None
    event = run_deferred_trigger(deferred.value)
    assert event["status"] == "success"
    assert {r.path for r in realtime_requests(emulator)} == {f"/realtime/v1/runs/{ti.xcoms['run_id']}"}


def sensor(run_id: str, **kwargs: Any) -> TriggerRunSensor:
    return in_dag(TriggerRunSensor, task_id="watch", run_id=run_id, poke_interval=0.05, **kwargs)


def test_sensor_pokes_over_the_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output={"ok": 1}))
    run_id = client.tasks.trigger("rt", None).id
    task, context, _ = start_try(sensor(run_id))

    assert task.execute(context) == {"ok": 1}
    assert poll_requests(emulator) == []
    assert realtime_requests(emulator)


def test_sensor_fails_at_once_on_a_failed_run(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.2, fail="bad input"))
    run_id = client.tasks.trigger("rt", None).id
    task, context, _ = start_try(sensor(run_id))

    with pytest.raises(AirflowFailException, match="bad input"):
        task.execute(context)


def test_deferred_sensor_follows_the_run_feed(emulator: EmulatorServer, client: TriggerClient) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.5, output="fine"))
    run_id = client.tasks.trigger("rt", None).id
    task, context, _ = start_try(sensor(run_id, deferrable=True, timeout=60))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert deferred.value.trigger.serialize()[1]["wait_mode"] == "realtime"
    polls_before = len(poll_requests(emulator))
    event = run_deferred_trigger(deferred.value)
    assert event["status"] == "success"
    assert len(poll_requests(emulator)) == polls_before
    assert task.resume_execution("execute_complete", {"event": event}, context) == "fine"


def batch_operator(**kwargs: Any) -> TriggerBatchOperator:
    defaults = {"task_id": "batch", "task_identifier": "rt", "poll_interval": 0.05}
    return in_dag(TriggerBatchOperator, **{**defaults, **kwargs})


def test_batch_operator_waits_over_the_batch_feed(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output=lambda p: p * 10))
    task, context, ti = start_try(batch_operator(payloads=[1, 2, 3]))

    result = task.execute(context)

    assert result["outputs"] == [10, 20, 30]
    assert poll_requests(emulator) == []
    assert {r.path for r in realtime_requests(emulator)} == {f"/realtime/v1/batches/{ti.xcoms['batch_id']}"}


def test_deferred_batch_operator_tags_every_run(emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("rt", duration=0.4, output=lambda p: p))
    task, context, ti = start_try(batch_operator(payloads=[1, 2], deferrable=True))

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert all(FEED_TAG in emulator.state.runs[r].tags for r in ti.xcoms["run_ids"])
    assert deferred.value.trigger.serialize()[1]["feed_tag"] == FEED_TAG
    event = run_deferred_trigger(deferred.value)
    assert event["status"] == "success"
    resumed, resumed_context, _ = start_try(batch_operator(payloads=[1, 2], deferrable=True))
    assert resumed.execute_complete(resumed_context, event)["outputs"] == [1, 2]


class RecordingLog:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.warnings.append(message % args)

    def info(self, message: str, *args: Any) -> None:
        pass


def test_a_pat_waits_by_polling_and_says_why_once(emulator: EmulatorServer) -> None:
    log = RecordingLog()
    with TriggerClient(api_key=emulator.pat, base_url=emulator.base_url) as pat_client:
        watch = RunWatch("run_abc", url=None, log=log)
        wait = WorkerWait(
            pat_client,
            RunSet([watch]),
            poll_interval=1.0,
            deadline=None,
            wait_mode="realtime",
            log=log,
            what="run run_abc",
        )
        assert wait._follow_feed() is False

    assert log.warnings == [
        "Realtime updates unavailable for run run_abc (a personal access token cannot read realtime "
        "feeds); polling instead."
    ]
    assert realtime_requests(emulator) == []
