"""Run lifecycle on a hand-driven clock: QUEUED → EXECUTING → final; delay, ttl, cancel, replay."""

from __future__ import annotations

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api


def test_queued_executing_completed_with_echoed_output(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("echo", {"n": 1})
    first = api.run(run_id)
    assert (first["status"], first["isQueued"], first["payload"]) == ("QUEUED", True, {"n": 1})
    assert "output" not in first and "startedAt" not in first
    clock.advance(0.1)
    running = api.run(run_id)
    assert (running["status"], running["isExecuting"]) == ("EXECUTING", True)
    assert "startedAt" in running
    clock.advance(1)
    done = api.run(run_id)
    assert (done["status"], done["isCompleted"], done["isSuccess"]) == ("COMPLETED", True, True)
    assert done["output"] == {"n": 1}
    assert done["finishedAt"] >= done["startedAt"]
    assert done["durationMs"] == 200


def test_behaviour_output_function_and_duration(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("double", duration=5, output=lambda p: {"doubled": p["n"] * 2}))
    run_id = api.trigger("double", {"n": 21})
    clock.advance(3)
    assert api.run(run_id)["status"] == "EXECUTING"
    clock.advance(3)
    assert api.run(run_id)["output"] == {"doubled": 42}


def test_failing_task_reports_error(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("broken", fail="boom"))
    run_id = api.trigger("broken", {})
    clock.advance(5)
    run = api.run(run_id)
    assert (run["status"], run["isFailed"]) == ("FAILED", True)
    assert run["error"]["message"] == "boom"
    assert "output" not in run


def test_crash_and_system_failure_outcomes(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("crash", outcome="CRASHED", error="oom"))
    emulator.state.set_task(TaskBehaviour("sys", outcome="SYSTEM_FAILURE"))
    crash, sys_fail = api.trigger("crash"), api.trigger("sys")
    clock.advance(5)
    assert api.run(crash)["status"] == "CRASHED"
    assert api.run(sys_fail)["status"] == "SYSTEM_FAILURE"


def test_max_duration_times_out(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=60))
    run_id = api.trigger("slow", maxDuration=5)
    clock.advance(10)
    run = api.run(run_id)
    assert run["status"] == "TIMED_OUT"
    assert run["isCompleted"] is False  # the REST helper excludes TIMED_OUT, as the server does


def test_delay_keeps_run_delayed_until_due(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("later", delay="1h")
    run = api.run(run_id)
    assert run["status"] == "DELAYED"
    assert run["delayedUntil"]
    clock.advance(3599)
    assert api.run(run_id)["status"] == "DELAYED"
    clock.advance(1.02)
    assert api.run(run_id)["status"] == "QUEUED"
    clock.advance(5)
    assert api.run(run_id)["status"] == "COMPLETED"


def test_ttl_expires_a_run_that_never_starts(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("stuck", queue_time=120))
    run_id = api.trigger("stuck", ttl="1m")
    assert api.run(run_id)["ttl"] == "1m"
    clock.advance(59)
    assert api.run(run_id)["status"] == "QUEUED"
    clock.advance(2)
    run = api.run(run_id)
    assert run["status"] == "EXPIRED"
    assert "expiredAt" in run


def test_dev_runs_default_to_ten_minute_ttl(api: Api) -> None:
    assert api.run(api.trigger("hello"))["ttl"] == "10m"


def test_cancel_executing_run(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("long", duration=100))
    run_id = api.trigger("long")
    clock.advance(1)
    response = api.post(f"/api/v2/runs/{run_id}/cancel")
    assert response.json() == {"id": run_id}
    clock.advance(200)
    run = api.run(run_id)
    assert (run["status"], run["isCancelled"]) == ("CANCELED", True)


def test_cancel_finished_run_is_a_no_op(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("hello")
    clock.advance(5)
    assert api.post(f"/api/v2/runs/{run_id}/cancel").status_code == 200
    assert api.run(run_id)["status"] == "COMPLETED"


def test_cancel_unknown_run_is_404(api: Api) -> None:
    response = api.post("/api/v2/runs/run_missing/cancel")
    assert response.status_code == 404
    assert response.json() == {"error": "Run not found"}


def test_replay_creates_a_new_run_with_same_payload(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("hello", {"x": 1}, tags=["t1"])
    clock.advance(5)
    new_id = api.post(f"/api/v1/runs/{run_id}/replay").json()["id"]
    assert new_id != run_id
    new = api.run(new_id)
    assert (new["taskIdentifier"], new["payload"], new["tags"], new["status"]) == (
        "hello",
        {"x": 1},
        ["t1"],
        "QUEUED",
    )


def test_reschedule_only_delayed_runs(api: Api, clock: ManualClock) -> None:
    delayed = api.trigger("later", delay="1h")
    response = api.post(f"/api/v1/runs/{delayed}/reschedule", json={"delay": "2h"})
    assert response.status_code == 200
    assert response.json()["status"] == "DELAYED"
    clock.advance(3700)
    assert api.run(delayed)["status"] == "DELAYED"
    immediate = api.trigger("now")
    response = api.post(f"/api/v1/runs/{immediate}/reschedule", json={"delay": "1h"})
    assert response.status_code == 422
    assert response.json() == {"error": "Cannot reschedule a run that is not delayed"}
    bad = api.post(f"/api/v1/runs/{delayed}/reschedule", json={"delay": "soon"})
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid delay: soon"})


def test_retrieve_unknown_run_says_retry(api: Api) -> None:
    response = api.get("/api/v3/runs/run_doesnotexist")
    assert response.status_code == 404
    assert response.headers["x-should-retry"] == "true"
    assert response.json() == {"error": "Not found"}


def test_legacy_status_vocabulary_without_api_version(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("broken", fail="x", duration=0, queue_time=0))
    run_id = api.trigger("broken")
    legacy = Api(emulator, emulator.secret_key)
    legacy.headers.pop("x-trigger-api-version")
    assert legacy.run(run_id)["status"] == "FAILED"
    emulator.state.set_task(TaskBehaviour("quick", duration=0, queue_time=0))
    assert emulator.state.run_status(run_id) == "FAILED"


def test_result_404_until_finished(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("hello", {"a": 1})
    pending = api.get(f"/api/v1/runs/{run_id}/result")
    assert (pending.status_code, pending.json()) == (
        404,
        {"error": "Run either doesn't exist or is not finished"},
    )
    clock.advance(5)
    result = api.get(f"/api/v1/runs/{run_id}/result").json()
    assert (result["ok"], result["id"], result["output"], result["outputType"]) == (
        True,
        run_id,
        '{"json":{"a":1}}',
        "application/super+json",
    )  # the SDK stores outputs as superjson


def test_paused_queue_holds_runs_until_resumed(api: Api, clock: ManualClock) -> None:
    first = api.trigger("q")
    clock.advance(5)
    assert api.run(first)["status"] == "COMPLETED"
    paused = api.post("/api/v1/queues/q/pause", json={"type": "task", "action": "pause"})
    assert paused.json()["paused"] is True
    held = api.trigger("q")
    clock.advance(60)
    assert api.run(held)["status"] == "QUEUED"
    assert api.get("/api/v1/queues/q?type=task").json()["queued"] == 1
    api.post("/api/v1/queues/q/pause", json={"type": "task", "action": "resume"})
    clock.advance(5)
    assert api.run(held)["status"] == "COMPLETED"
