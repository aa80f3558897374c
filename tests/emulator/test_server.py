"""EmulatorServer lifecycle, the CLI, the request log, control routes and the run page."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest
import requests

from airflow_provider_trigger.emulator import EmulatorServer, EmulatorState, TaskBehaviour, create_app

from .conftest import Api


def test_server_picks_free_port_and_stops_cleanly() -> None:
    with EmulatorServer() as emu:
        assert emu.port > 0 and emu.base_url == f"http://127.0.0.1:{emu.port}"
        assert requests.get(emu.base_url + "/api/v1/timezones", timeout=10).status_code == 200
        url = emu.base_url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/v1/timezones", timeout=2)


def test_two_servers_have_independent_state() -> None:
    with EmulatorServer() as one, EmulatorServer() as two:
        Api(one, one.secret_key).trigger("a")
        assert len(one.state.runs) == 1 and two.state.runs == {}


def test_reset_clears_everything(emulator: EmulatorServer, api: Api) -> None:
    emulator.state.set_task(TaskBehaviour("x", fail="no"))
    api.trigger("x")
    api.post("/api/v1/schedules", json={"task": "x", "cron": "* * * * *", "deduplicationKey": "d"})
    api.post(f"/api/v1/projects/{emulator.project_ref}/envvars/dev", json={"name": "A", "value": "1"})
    emulator.faults.inject(kind=500, count=5)
    emulator.state.config.default_duration = 99
    emulator.reset()
    state = emulator.state
    assert (state.runs, state.stores.schedules, state.stores.envvars, state.stores.queues) == ({}, {}, {}, {})
    assert state.tasks["x"] == TaskBehaviour("x")  # the session's deployed tasks stay, behaviours reset
    assert len(emulator.requests) == 0 and emulator.faults.pending == []
    assert state.config.default_duration == 0.2


def test_request_log_records_everything(emulator: EmulatorServer, api: Api) -> None:
    api.post("/api/v1/tasks/t/trigger", json={"payload": {"a": 1}}, headers={"x-custom": "1"})
    api.get("/api/v1/runs?page[size]=5")
    first, second = emulator.requests
    assert (first.method, first.path, first.status, first.json) == (
        "POST",
        "/api/v1/tasks/t/trigger",
        200,
        {"payload": {"a": 1}},
    )
    assert first.headers["x-custom"] == "1"
    assert second.query == {"page[size]": "5"}
    assert emulator.requests.filter(method="GET")[0].path == "/api/v1/runs"
    remote = requests.get(emulator.base_url + "/_emulator/requests", timeout=10).json()
    assert [r["path"] for r in remote] == ["/api/v1/tasks/t/trigger", "/api/v1/runs"]
    assert requests.delete(emulator.base_url + "/_emulator/requests", timeout=10).json() == {"success": True}
    assert len(emulator.requests) == 0


def test_control_routes(emulator: EmulatorServer, api: Api) -> None:
    base = emulator.base_url + "/_emulator"
    assert requests.post(
        base + "/tasks/made", json={"duration": 0, "queueTime": 0, "output": {"fixed": True}}, timeout=10
    ).json() == {"success": True}
    run_id = api.trigger("made", {"ignored": 1})
    state = requests.get(base + "/state", timeout=10).json()
    assert state["runs"][0]["id"] == run_id
    assert api.run(run_id)["output"] == {"fixed": True}
    patched = requests.patch(
        base + "/config", json={"defaultDuration": 7, "rateLimit": {"burst": 5}}, timeout=10
    )
    assert patched.status_code == 200 and emulator.state.config.default_duration == 7
    assert requests.patch(base + "/config", json={"nope": 1}, timeout=10).status_code == 400
    assert (
        requests.post(base + "/branches", json={"env": "preview", "branch": "b1"}, timeout=10).status_code
        == 200
    )
    assert requests.post(base + "/reset", timeout=10).json() == {"success": True}
    assert emulator.state.runs == {}


def test_run_page(emulator: EmulatorServer, api: Api) -> None:
    run_id = api.trigger("page", {"secret": "visible-payload"})
    page = requests.get(emulator.base_url + f"/runs/{run_id}", timeout=10)
    assert page.status_code == 200 and run_id in page.text and "text/html" in page.headers["content-type"]
    assert requests.get(emulator.base_url + "/runs/run_missing", timeout=10).status_code == 404


async def test_create_app_works_in_process() -> None:
    state = EmulatorState()
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        response = await client.post(
            "/api/v1/tasks/t/trigger",
            json={"payload": 1},
            headers={"Authorization": f"Bearer {state.secret_key}"},
        )
    assert response.status_code == 200
    assert list(state.runs) == [response.json()["id"]]


def test_cli_prints_url_and_keys() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_trigger.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Trigger.dev emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        lines = [process.stdout.readline() for _ in range(8)]
        assert any("tr_dev_" in line for line in lines) and any("tr_pat_" in line for line in lines)
        assert requests.get(url + "/api/v1/timezones", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_stop_answers_held_realtime_requests() -> None:
    emu = EmulatorServer().start()
    emu.state.config.realtime_hold_timeout = 30
    emu.state.set_task(TaskBehaviour("w", duration=600, queue_time=0))
    api = Api(emu, emu.secret_key, {"x-trigger-electric-version": "1.0.0-beta.1"})
    run_id = api.trigger("w")
    first = api.get(f"/realtime/v1/runs/{run_id}", params={"offset": "-1"})
    query = {
        "offset": first.headers["electric-offset"],
        "handle": first.headers["electric-handle"],
        "live": "true",
    }
    results: list[int] = []
    holder = threading.Thread(
        target=lambda: results.append(api.get(f"/realtime/v1/runs/{run_id}", params=query).status_code)
    )
    holder.start()
    while emu.state.realtime.stats()["liveNow"] == 0:
        time.sleep(0.01)
    emu.stop()
    holder.join()
    assert results == [200]


def test_command_line_deploys_the_example_tasks_or_the_ones_named() -> None:
    from airflow_provider_trigger.emulator.__main__ import EXAMPLE_TASKS, build_server

    default = build_server(["--port", "0"]).state
    names = [t if isinstance(t, str) else t.task for t in EXAMPLE_TASKS]
    assert all(default.is_deployed(t) for t in names) and not default.is_deployed("typo-task")
    assert default.tasks["publish-report"].wait_for_token == "tokenId"  # example_waitpoints' run
    assert not default.config.lenient and default.config.rate_limit is not None
    named = build_server(["--port", "0", "--task", "mine", "--queue", "shared", "--lenient"]).state
    assert set(named.tasks) == {"mine"} and named.declared_queues == {"shared"}
    assert named.config.lenient and named.is_deployed("typo-task")
