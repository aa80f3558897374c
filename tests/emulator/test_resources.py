"""Bulk actions, env vars, schedules, queues, waitpoint tokens and deployments."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api


# ----- bulk actions ------------------------------------------------------------------------------
def test_bulk_cancel_completes_over_time(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("slow", duration=100))
    runs = [api.trigger("slow") for _ in range(3)]
    keep = api.trigger("other")
    created = api.post(
        "/api/v1/bulk-actions", json={"action": "cancel", "filter": {"taskIdentifier": "slow"}}
    )
    assert created.status_code == 202
    action_id = created.json()["id"]
    pending = api.get(f"/api/v1/bulk-actions/{action_id}").json()
    assert (pending["status"], pending["type"], pending["counts"]["total"]) == ("PENDING", "CANCEL", 3)
    assert api.run(runs[0])["status"] != "CANCELED"
    clock.advance(1)
    done = api.get(f"/api/v1/bulk-actions/{action_id}").json()
    assert (done["status"], done["counts"]) == ("COMPLETED", {"total": 3, "success": 3, "failure": 0})
    assert {api.run(r)["status"] for r in runs} == {"CANCELED"}
    assert api.run(keep)["status"] != "CANCELED"
    listed = api.get(f"/api/v1/runs?filter[bulkAction]={action_id}").json()["data"]
    assert {r["id"] for r in listed} == set(runs)


@pytest.mark.usefixtures("no_list_lag")  # counts runs through the list; the lag is not the point
def test_bulk_replay_by_run_ids_and_abort(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("hello")
    replay = api.post(
        "/api/v1/bulk-actions", json={"action": "replay", "runIds": [run_id], "name": "again"}
    ).json()
    aborted = api.post("/api/v1/bulk-actions", json={"action": "replay", "runIds": [run_id]}).json()
    assert api.post(f"/api/v1/bulk-actions/{aborted['id']}/abort").json() == {"id": aborted["id"]}
    clock.advance(1)
    listed = api.get("/api/v1/bulk-actions").json()["data"]
    assert [(a["id"], a["status"]) for a in listed] == [
        (aborted["id"], "ABORTED"),
        (replay["id"], "COMPLETED"),
    ]
    assert listed[1]["name"] == "again"
    assert len(api.get("/api/v1/runs?filter[taskIdentifier]=hello").json()["data"]) == 2


def test_bulk_action_needs_exactly_one_selection(api: Api) -> None:
    both = api.post(
        "/api/v1/bulk-actions", json={"action": "cancel", "runIds": ["run_x"], "filter": {"tag": "a"}}
    )
    neither = api.post("/api/v1/bulk-actions", json={"action": "cancel"})
    empty_filter = api.post("/api/v1/bulk-actions", json={"action": "cancel", "filter": {}})
    too_many = api.post(
        "/api/v1/bulk-actions", json={"action": "cancel", "runIds": [f"run_{i}" for i in range(501)]}
    )
    assert [r.status_code for r in (both, neither, empty_filter, too_many)] == [400, 400, 400, 400]
    assert both.json()["error"] == "Invalid request body"


# ----- env vars ----------------------------------------------------------------------------------
def test_envvar_crud_with_secret_key_and_pat(emulator: EmulatorServer, api: Api) -> None:
    base = f"/api/v1/projects/{emulator.project_ref}/envvars/dev"
    assert api.post(base, json={"name": "API_URL", "value": "x"}).json() == {"success": True}
    assert api.post(base, json={"name": "TOKEN", "value": "s3cr3t", "isSecret": True}).json() == {
        "success": True
    }
    listed = api.get(base).json()
    assert listed == [
        {"name": "API_URL", "value": "x", "isSecret": False},
        {"name": "TOKEN", "value": "<redacted>", "isSecret": True},
    ]
    assert api.get(f"{base}/TOKEN").json() == {"name": "TOKEN", "value": "<redacted>", "isSecret": True}
    assert api.put(f"{base}/API_URL", json={"value": "y"}).json() == {"success": True}
    pat = Api(emulator, emulator.pat)
    assert pat.get(f"{base}/API_URL").json()["value"] == "y"
    assert pat.delete(f"{base}/API_URL").json() == {"success": True}
    missing = api.get(f"{base}/API_URL")
    assert (missing.status_code, missing.json()) == (404, {"error": "Environment variable not found"})
    assert api.put(f"{base}/NEVER", json={"value": "z"}).status_code == 404


def test_envvar_import_override_and_staging_alias(emulator: EmulatorServer) -> None:
    staging = Api(emulator, emulator.keys["staging"])
    base = f"/api/v1/projects/{emulator.project_ref}/envvars/staging"
    assert staging.post(f"{base}/import", json={"variables": {"A": "1", "B": "2"}}).json() == {
        "success": True
    }
    conflict = staging.post(f"{base}/import", json={"variables": {"A": "9"}})
    assert conflict.status_code == 400
    assert conflict.json()["variableErrors"] == [{"key": "A", "error": "Variable already set in Staging."}]
    assert staging.post(f"{base}/import", json={"variables": {"A": "9"}, "override": True}).status_code == 200
    assert {v["name"]: v["value"] for v in staging.get(base).json()} == {"A": "9", "B": "2"}
    blocked = staging.post(f"{base}/import", json={"variables": {"TRIGGER_SECRET_KEY": "x"}})
    assert (
        blocked.json()["error"]
        == "You must set at least one valid variable. All the variables submitted are not allowed."
    )


def test_envvar_import_multipart_dotenv(emulator: EmulatorServer, api: Api) -> None:
    base = f"/api/v1/projects/{emulator.project_ref}/envvars/dev/import"
    files = {"variables": ("vars.env", b"ONE=1\nTWO='two words'\n")}
    response = requests.post(
        emulator.base_url + base,
        files=files,
        data={"override": "true"},
        headers={"Authorization": f"Bearer {emulator.secret_key}"},
        timeout=10,
    )
    assert response.json() == {"success": True}
    assert emulator.state.summary()["envvars"]


def test_envvar_branch_includes_parent_and_parent_variables(emulator: EmulatorServer) -> None:
    branch = Api(emulator, emulator.keys["preview"], {"x-trigger-branch": "feat"})
    base = f"/api/v1/projects/{emulator.project_ref}/envvars/preview"
    body = {"variables": {"CHILD": "c"}, "parentVariables": {"PARENT": "p"}}
    assert branch.post(f"{base}/import", json=body).json() == {"success": True}
    assert {v["name"] for v in branch.get(base).json()} == {"CHILD", "PARENT"}


def test_envvar_key_must_match_project_and_env(emulator: EmulatorServer, api: Api) -> None:
    wrong_env = api.get(f"/api/v1/projects/{emulator.project_ref}/envvars/prod")
    assert wrong_env.status_code == 400 and "environment slug" in wrong_env.json()["error"]
    wrong_project = api.get("/api/v1/projects/proj_emulatorotherproject/envvars/dev")
    assert wrong_project.status_code == 400 and "project ref" in wrong_project.json()["error"]
    pat = Api(emulator, emulator.pat)
    assert pat.get("/api/v1/projects/proj_unknown/envvars/dev").json() == {"error": "Project not found"}


def test_cli_envvars_are_decrypted(emulator: EmulatorServer, api: Api) -> None:
    api.post(
        f"/api/v1/projects/{emulator.project_ref}/envvars/dev",
        json={"name": "S", "value": "v", "isSecret": True},
    )
    assert api.get(f"/api/v1/projects/{emulator.project_ref}/envvars").json() == {"variables": {"S": "v"}}


# ----- schedules ---------------------------------------------------------------------------------
def test_schedule_create_upsert_and_lifecycle(api: Api) -> None:
    body = {"task": "nightly", "cron": "0 2 * * *", "deduplicationKey": "nightly-1", "externalId": "u1"}
    created = api.post("/api/v1/schedules", json=body).json()
    assert created["id"].startswith("sched_") and created["type"] == "IMPERATIVE"
    assert created["generator"] == {"type": "CRON", "expression": "0 2 * * *", "description": "At 02:00 AM"}
    assert created["deduplicationKey"] == "nightly-1" and created["nextRun"].endswith("T02:00:00.000Z")
    upserted = api.post(
        "/api/v1/schedules", json={**body, "cron": "30 3 * * *", "timezone": "Europe/Paris"}
    ).json()
    assert upserted["id"] == created["id"] and upserted["timezone"] == "Europe/Paris"
    sid = created["id"]
    assert api.post(f"/api/v1/schedules/{sid}/deactivate").json()["active"] is False
    assert "nextRun" not in api.get(f"/api/v1/schedules/{sid}").json()
    assert api.post(f"/api/v1/schedules/{sid}/activate").json()["active"] is True
    updated = api.put(f"/api/v1/schedules/{sid}", json={"task": "nightly", "cron": "*/5 * * * *"}).json()
    assert updated["generator"]["description"] == "Every 5 minutes"
    assert api.delete(f"/api/v1/schedules/{sid}").json() == {"id": sid}
    assert api.get(f"/api/v1/schedules/{sid}").json() == {"error": "Schedule not found"}


def test_schedule_validation(emulator: EmulatorServer, api: Api) -> None:
    base = {"task": "t", "deduplicationKey": "d"}
    for cron in ("0 2 * *", "61 * * * *", "a b c d e"):
        response = api.post("/api/v1/schedules", json={**base, "cron": cron})
        assert response.status_code == 422 and response.json()["error"].startswith("Invalid cron expression")
    bad_tz = api.post("/api/v1/schedules", json={**base, "cron": "* * * * *", "timezone": "Mars/Base"})
    assert bad_tz.status_code == 422
    emulator.state.set_task(TaskBehaviour("plain", scheduled=False))
    not_scheduled = api.post("/api/v1/schedules", json={**base, "task": "plain", "cron": "* * * * *"})
    assert not_scheduled.json() == {"error": "Task with identifier plain is not a scheduled task."}
    missing_key = api.post("/api/v1/schedules", json={"task": "t", "cron": "* * * * *"})
    assert missing_key.status_code == 400 and missing_key.json()["error"] == "Invalid request body"


def test_declarative_schedule_cannot_be_updated(emulator: EmulatorServer, api: Api) -> None:
    schedule = emulator.state.add_schedule("cron-task", "0 * * * *", declarative=True)
    response = api.put(f"/api/v1/schedules/{schedule.id}", json={"task": "cron-task", "cron": "5 * * * *"})
    assert (response.status_code, response.json()) == (422, {"error": "Cannot update a declarative schedule"})
    assert api.get(f"/api/v1/schedules/{schedule.id}").json()["type"] == "DECLARATIVE"


def test_schedule_offset_pagination(api: Api) -> None:
    for i in range(5):
        api.post("/api/v1/schedules", json={"task": "t", "cron": "* * * * *", "deduplicationKey": f"k{i}"})
    page = api.get("/api/v1/schedules?page=2&perPage=2").json()
    assert page["pagination"] == {"currentPage": 2, "totalPages": 3, "count": 5}
    assert len(page["data"]) == 2
    assert len(api.get("/api/v1/schedules").json()["data"]) == 5  # default perPage 20
    assert api.get("/api/v1/schedules?perPage=1000").json()["pagination"]["totalPages"] == 1  # capped at 100
    assert api.get("/api/v1/schedules?page=0").status_code == 400


def test_timezones_exclude_utc(emulator: EmulatorServer) -> None:
    with_utc = requests.get(emulator.base_url + "/api/v1/timezones", timeout=10).json()["timezones"]
    without = requests.get(emulator.base_url + "/api/v1/timezones?excludeUtc=true", timeout=10).json()[
        "timezones"
    ]
    assert "UTC" in with_utc and "UTC" not in without and "America/New_York" in without


# ----- queues ------------------------------------------------------------------------------------
def test_queues_list_retrieve_override_reset(api: Api) -> None:
    api.emu.state.declare_queue("shared/queue")  # custom queues exist once a deploy declares them
    for task in ("a", "b", "c"):
        api.trigger(task)
    api.trigger("d", queue={"name": "shared/queue"})
    page = api.get("/api/v1/queues?perPage=2").json()
    assert page["pagination"] == {"currentPage": 1, "totalPages": 2, "count": 4}
    by_task = api.get("/api/v1/queues/a?type=task").json()
    assert (by_task["name"], by_task["type"]) == ("a", "task")
    assert api.get(f"/api/v1/queues/{by_task['id']}").json()["id"] == by_task["id"]
    custom = api.get("/api/v1/queues/shared%2Fqueue?type=custom").json()
    assert (custom["name"], custom["type"]) == ("shared/queue", "custom")
    overridden = api.post(
        f"/api/v1/queues/{by_task['id']}/concurrency/override", json={"concurrencyLimit": 3}
    ).json()
    assert overridden["concurrencyLimit"] == 3 and overridden["concurrency"]["override"] == 3
    reset = api.post(f"/api/v1/queues/{by_task['id']}/concurrency/reset", json={}).json()
    assert reset["concurrency"]["override"] is None
    again = api.post(f"/api/v1/queues/{by_task['id']}/concurrency/reset", json={})
    assert (again.status_code, again.json()) == (400, {"error": "Queue is not overridden"})
    both = api.post(
        f"/api/v1/queues/{by_task['id']}/concurrency/override", json={"concurrencyLimit": 1, "percent": 5}
    )
    assert both.status_code == 400
    assert api.get("/api/v1/queues/nope?type=task").status_code == 404


# ----- waitpoint tokens --------------------------------------------------------------------------
def test_waitpoint_token_lifecycle(emulator: EmulatorServer, api: Api) -> None:
    created = api.post("/api/v1/waitpoints/tokens", json={"idempotencyKey": "w", "tags": ["x"]})
    body = created.json()
    assert body["isCached"] is False and "x-trigger-jwt" in created.headers
    assert api.post("/api/v1/waitpoints/tokens", json={"idempotencyKey": "w"}).json()["isCached"] is True
    token = api.get(f"/api/v1/waitpoints/tokens/{body['id']}").json()
    assert (token["status"], token["tags"]) == ("WAITING", ["x"])
    assert api.post(f"/api/v1/waitpoints/tokens/{body['id']}/complete", json={"data": {"ok": 1}}).json() == {
        "success": True
    }
    done = api.get(f"/api/v1/waitpoints/tokens/{body['id']}").json()
    assert (done["status"], done["output"], done["outputIsError"]) == ("COMPLETED", '{"ok":1}', False)
    listed = api.get("/api/v1/waitpoints/tokens?filter[status]=COMPLETED").json()
    assert [t["id"] for t in listed["data"]] == [body["id"]]


def test_waitpoint_callback_url_and_timeout(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    token = api.post("/api/v1/waitpoints/tokens", json={}).json()
    assert requests.post(token["url"] + "x", json={}, timeout=10).status_code == 401
    assert requests.post(token["url"], json={"v": 2}, timeout=10).json() == {"success": True}
    assert api.get(f"/api/v1/waitpoints/tokens/{token['id']}").json()["output"] == '{"v":2}'
    timed = api.post("/api/v1/waitpoints/tokens", json={"timeout": "10m"}).json()
    clock.advance(601)
    assert api.get(f"/api/v1/waitpoints/tokens/{timed['id']}").json()["status"] == "TIMED_OUT"


# ----- deployments -------------------------------------------------------------------------------
def test_deployments_forward_only_cursor(emulator: EmulatorServer, api: Api) -> None:
    for i in range(6):
        emulator.state.add_deployment(f"20260201.{i}")
    first = api.get("/api/v1/deployments?page[size]=5").json()
    assert len(first["data"]) == 5 and set(first["pagination"]) == {"next"}
    rest = api.get(f"/api/v1/deployments?page[size]=5&page[after]={first['pagination']['next']}").json()
    assert len(rest["data"]) == 3 and rest["pagination"] == {}
    assert len(api.get("/api/v1/deployments?page[size]=1").json()["data"]) == 5  # clamped to 5..100
    assert api.get("/api/v1/deployments/current").json()["version"] == "20260201.5"


def test_upsert_never_changes_the_task_of_an_existing_schedule(emulator: EmulatorServer) -> None:
    """As the real server: an upsert by deduplication key keeps the schedule's original task."""

    headers = {"Authorization": f"Bearer {emulator.secret_key}"}
    body = {"task": "hello-world", "cron": "0 * * * *", "deduplicationKey": "keep-task"}
    first = requests.post(f"{emulator.base_url}/api/v1/schedules", json=body, headers=headers, timeout=10)
    again = requests.post(
        f"{emulator.base_url}/api/v1/schedules",
        json={**body, "task": "other-task", "cron": "5 * * * *"},
        headers=headers,
        timeout=10,
    )
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["task"] == "hello-world"
    assert again.json()["generator"]["expression"] == "5 * * * *"
