"""Runs that wait on a waitpoint token (``TaskBehaviour(wait_for_token=...)``), as upstream's run engine
continues them (waitpointSystem.ts): EXECUTING until the token is completed, then the run's own work."""

from __future__ import annotations

import json

import requests

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api


def _token(api: Api, **body: object) -> str:
    return str(api.post("/api/v1/waitpoints/tokens", json=body).json()["id"])


def _trigger(api: Api, task: str, payload: object) -> str:
    return str(api.post(f"/api/v1/tasks/{task}/trigger", json={"payload": payload}).json()["id"])


def _run(api: Api, run_id: str) -> dict[str, object]:
    return dict(api.get(f"/api/v3/runs/{run_id}").json())


def test_a_run_continues_with_the_data_its_token_is_completed_with(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("approve", wait_for_token="tokenId", duration=2))
    token = _token(api)
    run_id = _trigger(api, "approve", {"tokenId": token})
    clock.advance(3600)
    assert _run(api, run_id)["status"] == "EXECUTING"  # blocked on the token, however long

    assert api.post(f"/api/v1/waitpoints/tokens/{token}/complete", json={"data": {"go": 1}}).json() == {
        "success": True
    }
    clock.advance(1)
    assert _run(api, run_id)["status"] == "EXECUTING"  # the rest of its work (duration=2)
    clock.advance(1.5)
    run = _run(api, run_id)
    assert run["status"] == "COMPLETED" and run["output"] == {"go": 1}
    # Completing again answers success and changes nothing (the route returns early when COMPLETED).
    api.post(f"/api/v1/waitpoints/tokens/{token}/complete", json={"data": {"go": 2}})
    assert _run(api, run_id)["output"] == {"go": 1}


def test_an_explicit_output_and_a_token_completed_before_the_run_waits(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(
        TaskBehaviour("approve", wait_for_token=lambda p: p["t"], duration=0, output={"fixed": True})
    )
    token = _token(api)
    assert requests.post(api.get(f"/api/v1/waitpoints/tokens/{token}").json()["url"], json=[1], timeout=10).ok
    run_id = _trigger(api, "approve", {"t": token})
    clock.advance(1)
    assert _run(api, run_id)["output"] == {"fixed": True}


def test_a_token_timeout_fails_the_waiting_run(
    emulator: EmulatorServer, api: Api, clock: ManualClock
) -> None:
    emulator.state.set_task(TaskBehaviour("approve", wait_for_token="tokenId"))
    token = _token(api, timeout="10m")
    run_id = _trigger(api, "approve", {"tokenId": token})
    clock.advance(599)
    assert _run(api, run_id)["status"] == "EXECUTING"
    clock.advance(2)
    run = _run(api, run_id)
    assert run["status"] == "FAILED"
    error = run["error"]
    assert isinstance(error, dict) and error["name"] == "WaitpointTimeoutError"
    assert str(error["message"]).startswith("Waitpoint timed out at ")
    retrieved = api.get(f"/api/v1/waitpoints/tokens/{token}").json()
    assert retrieved["status"] == "TIMED_OUT" and retrieved["outputIsError"] is True
    assert json.loads(retrieved["output"]) == {
        "code": "TRIGGER_WAITPOINT_TIMEOUT",
        "message": error["message"],
    }
    # Completing a timed-out token answers success (it is COMPLETED upstream) and changes nothing.
    assert api.post(f"/api/v1/waitpoints/tokens/{token}/complete", json={"data": 1}).json() == {
        "success": True
    }
    assert api.get(f"/api/v1/waitpoints/tokens/{token}").json()["status"] == "TIMED_OUT"


def test_an_unknown_token_fails_the_run(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("approve", wait_for_token="tokenId"))
    missing = _trigger(api, "approve", {"tokenId": "waitpoint_nope"})
    no_id = _trigger(api, "approve", {"other": 1})
    clock.advance(5)
    assert _run(api, missing)["error"]["message"] == "Waitpoint waitpoint_nope not found"  # type: ignore[index]
    assert _run(api, no_id)["status"] == "FAILED"
