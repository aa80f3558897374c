"""Authentication as the server does it: secret keys per env, PATs only on PAT routes, preview branches."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.emulator import EmulatorServer

from .conftest import Api


def test_missing_bearer_is_401_with_server_body(emulator: EmulatorServer) -> None:
    response = Api(emulator, None).get("/api/v1/runs")
    assert response.status_code == 401  # the /api rate limiter answers first (apiRateLimit.server.ts)
    assert response.json()["error"] == "No authorization header provided"
    emulator.state.config.rate_limit = None  # without it, the route's own answer
    assert Api(emulator, None).get("/api/v1/runs").json() == {"error": "Invalid or Missing API key"}


def test_unknown_key_is_401(emulator: EmulatorServer) -> None:
    response = Api(emulator, "tr_dev_doesnotexist").get("/api/v1/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.usefixtures("no_list_lag")  # about env scoping, not the list's lag
def test_each_secret_key_scopes_its_environment(emulator: EmulatorServer, env: str) -> None:
    api = Api(emulator, emulator.keys[env])
    run_id = api.trigger("scoped")
    listed = api.get("/api/v1/runs").json()["data"]
    assert [r["id"] for r in listed] == [run_id]
    assert listed[0]["env"]["name"] == {"staging": "stg"}.get(env, env)
    other = Api(emulator, emulator.keys["prod" if env != "prod" else "dev"])
    assert other.get(f"/api/v3/runs/{run_id}").status_code == 404


def test_pat_is_rejected_on_environment_routes(emulator: EmulatorServer) -> None:
    response = Api(emulator, emulator.pat).post("/api/v1/tasks/hello/trigger", json={"payload": 1})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}


def test_legacy_routes_use_their_own_401_message(emulator: EmulatorServer) -> None:
    response = Api(emulator, emulator.pat).get("/api/v1/schedules")
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or Missing API Key"}


@pytest.mark.usefixtures("no_list_lag")  # about PAT auth, not the list's lag
def test_pat_works_on_project_runs_and_secret_key_does_not(emulator: EmulatorServer, api: Api) -> None:
    run_id = api.trigger("hello")
    path = f"/api/v1/projects/{emulator.project_ref}/runs?filter[env]=dev"
    pat = Api(emulator, emulator.pat)
    assert [r["id"] for r in pat.get(path).json()["data"]] == [run_id]
    rejected = api.get(path)
    assert rejected.status_code == 401
    assert rejected.json() == {"error": "Invalid or Missing PAT"}
    assert Api(emulator, "tr_pat_unknown").get(path).json() == {"error": "Invalid PAT"}


def test_preview_key_needs_branch_header(emulator: EmulatorServer) -> None:
    preview = Api(emulator, emulator.keys["preview"])
    response = preview.get("/api/v1/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "x-trigger-branch header required for preview env"}
    with_branch = Api(emulator, emulator.keys["preview"], {"x-trigger-branch": "feature-a"})
    run_id = with_branch.trigger("hello")
    assert with_branch.run(run_id)["id"] == run_id
    other_branch = Api(emulator, emulator.keys["preview"], {"x-trigger-branch": "feature-b"})
    assert other_branch.get(f"/api/v3/runs/{run_id}").status_code == 404


def test_unknown_branch_without_auto_creation(emulator: EmulatorServer) -> None:
    emulator.state.config.auto_create_branches = False
    emulator.state.add_branch("preview", "known")
    known = Api(emulator, emulator.keys["preview"], {"x-trigger-branch": "known"})
    assert known.get("/api/v1/runs").status_code == 200
    unknown = Api(emulator, emulator.keys["preview"], {"x-trigger-branch": "nope"})
    response = unknown.get("/api/v1/runs")
    assert response.status_code == 401
    assert response.json() == {"error": "No matching branch env"}


def test_dev_default_branch_means_no_branch(emulator: EmulatorServer, api: Api) -> None:
    run_id = api.trigger("hello")
    default = Api(emulator, emulator.secret_key, {"x-trigger-branch": "default"})
    assert default.run(run_id)["id"] == run_id


def test_timezones_need_no_auth(emulator: EmulatorServer) -> None:
    response = Api(emulator, None).get("/api/v1/timezones")
    assert response.status_code == 200
    assert "Europe/London" in response.json()["timezones"]


def test_credentials_are_deterministic(emulator: EmulatorServer) -> None:
    again = EmulatorServer()
    assert again.keys == emulator.keys
    assert again.pat == emulator.pat
    assert emulator.secret_key.startswith("tr_dev_")
    assert set(emulator.keys) == {"dev", "staging", "prod", "preview"}
    assert emulator.keys["preview"].startswith("tr_preview_")
