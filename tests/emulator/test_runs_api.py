"""Runs listing (env + project), cursor pagination, filters, metadata, tags, events and trace."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock, TaskBehaviour

from .conftest import Api

# These tests are about list filters and pages, not the replica lag (test_production covers it).
pytestmark = pytest.mark.usefixtures("no_list_lag")


def _ids(response_json: dict) -> list[str]:  # type: ignore[type-arg]
    return [r["id"] for r in response_json["data"]]


def test_cursor_pagination_next_and_previous(api: Api) -> None:
    ids = [api.trigger("p") for _ in range(5)][::-1]  # newest first
    first = api.get("/api/v1/runs?page[size]=2").json()
    assert _ids(first) == ids[:2]
    assert first["pagination"] == {"next": ids[1]}
    second = api.get(f"/api/v1/runs?page[size]=2&page[after]={first['pagination']['next']}").json()
    assert _ids(second) == ids[2:4]
    assert second["pagination"] == {"next": ids[3], "previous": ids[2]}
    last = api.get(f"/api/v1/runs?page[size]=2&page[after]={ids[3]}").json()
    assert _ids(last) == ids[4:] and "next" not in last["pagination"]
    back = api.get(f"/api/v1/runs?page[size]=2&page[before]={ids[2]}").json()
    assert _ids(back) == ids[:2]
    both = api.get(f"/api/v1/runs?page[size]=2&page[after]={ids[0]}&page[before]={ids[2]}").json()
    assert _ids(both) == ids[:2]  # before wins


def test_page_size_default_and_maximum(api: Api) -> None:
    for _ in range(27):
        api.trigger("many")
    assert len(api.get("/api/v1/runs").json()["data"]) == 25
    assert len(api.get("/api/v1/runs?page[size]=100").json()["data"]) == 27
    too_big = api.get("/api/v1/runs?page[size]=101")
    assert too_big.status_code == 400 and too_big.json()["error"] == "Query Error"
    assert api.get("/api/v1/runs?page[size]=0").status_code == 400


def test_filters(emulator: EmulatorServer, api: Api, clock: ManualClock) -> None:
    emulator.state.set_task(TaskBehaviour("bad", fail="x"))
    good = api.trigger("good", tags=["red"])
    bad = api.trigger("bad", tags=["blue"])
    clock.advance(5)
    assert _ids(api.get("/api/v1/runs?filter[status]=COMPLETED").json()) == [good]
    assert _ids(api.get("/api/v1/runs?filter[status]=FAILED,COMPLETED").json()) == [bad, good]
    assert _ids(api.get("/api/v1/runs?filter[taskIdentifier]=bad").json()) == [bad]
    assert _ids(api.get("/api/v1/runs?filter[tag]=red").json()) == [good]
    assert _ids(api.get("/api/v1/runs?filter[isTest]=true").json()) == []
    assert _ids(api.get("/api/v1/runs?filter[queue]=task/good").json()) == [good]
    assert api.get("/api/v1/runs?filter[isTest]=maybe").status_code == 400
    invalid = api.get("/api/v1/runs?filter[status]=DONE")
    assert invalid.status_code == 400 and "DONE" in str(invalid.json())
    assert api.get("/api/v1/runs?filter[machine]=huge").status_code == 400
    future_ms = int((clock() + 60) * 1000)
    assert _ids(api.get(f"/api/v1/runs?filter[createdAt][from]={future_ms}").json()) == []
    assert len(_ids(api.get("/api/v1/runs?filter[createdAt][period]=1d").json())) == 2


def test_project_runs_need_env_filter(emulator: EmulatorServer, api: Api) -> None:
    run_id = api.trigger("hello")
    pat = Api(emulator, emulator.pat)
    base = f"/api/v1/projects/{emulator.project_ref}/runs"
    assert _ids(pat.get(base + "?filter[env]=dev").json()) == [run_id]
    assert _ids(pat.get(base + "?filter[env]=prod,dev").json()) == []  # only the first matching env
    assert pat.get(base).status_code == 500  # as the server: "No environment found"
    assert pat.get(base + "?filter[env]=staging").status_code == 500  # the slug is stg
    assert pat.get("/api/v1/projects/proj_missing/runs?filter[env]=dev").status_code == 404


def test_metadata_get_put_and_operations(api: Api, emulator: EmulatorServer) -> None:
    emulator.state.set_task(TaskBehaviour("meta", duration=60))
    run_id = api.trigger("meta", metadata={"a": 1})
    assert api.get(f"/api/v1/runs/{run_id}/metadata").json() == {
        "metadata": '{"a":1}',
        "metadataType": "application/json",
    }
    ops = [
        {"type": "set", "key": "b", "value": 2},
        {"type": "increment", "key": "a", "value": 5},
        {"type": "append", "key": "log", "value": "x"},
    ]
    response = api.put(f"/api/v1/runs/{run_id}/metadata", json={"operations": ops})
    assert response.json() == {"metadata": {"a": 6, "b": 2, "log": ["x"]}}
    assert api.run(run_id)["metadata"] == {"a": 6, "b": 2, "log": ["x"]}
    replaced = api.put(f"/api/v1/runs/{run_id}/metadata", json={"metadata": {"z": 0}})
    assert replaced.json() == {"metadata": {"z": 0}}


def test_metadata_on_finished_run_is_422(api: Api, clock: ManualClock) -> None:
    run_id = api.trigger("hello")
    clock.advance(5)
    response = api.put(f"/api/v1/runs/{run_id}/metadata", json={"metadata": {"a": 1}})
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Cannot update metadata for a completed run"},
    )


def test_tags_up_to_ten(api: Api) -> None:
    run_id = api.trigger("hello", tags=["a"])
    assert api.post(f"/api/v1/runs/{run_id}/tags", json={"tags": ["b", "c"]}).json() == {
        "message": "Successfully set 2 new tags."
    }
    assert api.post(f"/api/v1/runs/{run_id}/tags", json={"tags": "a"}).json() == {
        "message": "No new tags to add"
    }
    too_many = api.post(f"/api/v1/runs/{run_id}/tags", json={"tags": [f"t{i}" for i in range(8)]})
    assert too_many.status_code == 422
    assert too_many.json()["error"].startswith("Runs can only have 10 tags")
    assert api.run(run_id)["tags"] == ["a", "b", "c"]


def test_events_and_trace(api: Api) -> None:
    run_id = api.trigger("hello")
    assert api.get(f"/api/v1/runs/{run_id}/events").json()["events"][0]["runId"] == run_id
    trace = api.get(f"/api/v1/runs/{run_id}/trace").json()["trace"]
    assert trace["rootSpan"]["runId"] == run_id
    assert api.get("/api/v1/runs/run_nope/trace").json() == {"error": "Trace not found"}


@pytest.mark.parametrize("path", ["/api/v1/runs/run_nope/metadata", "/api/v1/runs/run_nope/result"])
def test_missing_run_detail_is_404(api: Api, path: str) -> None:
    assert api.get(path).status_code == 404
