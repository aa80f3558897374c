"""Runs: list (env + project/PAT), retrieve, cancel, replay, reschedule, result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..actions import cancel, replay
from ..auth import legacy_secret_env, pat_user, secret_env
from ..errors import ApiError
from ..lifecycle import FILTER_STATUSES, common, error_object, list_item, parse_packet
from ..models import Environment, Run
from ..packets import presigned_io
from ..pagination import cursor_page
from ..parsing import delay_until, duration_seconds, parse_date
from ..state import EmulatorState
from ..triggering import MACHINES
from .common import api_version, find_run, legacy_validate, read_json, runs_of, state_of

router = APIRouter()
SecretEnv = Annotated[Environment, Depends(secret_env)]
LegacyEnv = Annotated[Environment, Depends(legacy_secret_env)]


def _query_error(message: str) -> ApiError:
    return ApiError(400, "Query Error", details=[{"message": message}])


def _split(q: Any, name: str) -> list[str] | None:
    value = q.get(name)
    return value.split(",") if value else None


def _date_param(q: Any, name: str) -> float | None:
    value = q.get(name)
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return int(value) / 1000
    parsed = parse_date(value)
    if parsed is None:
        raise ApiError(400, "Query Error", details=[{"path": [name], "message": "Invalid date"}])
    return parsed


def replica_time(state: EmulatorState) -> float:
    """The instant the runs list (ClickHouse upstream, ApiRunListPresenter) reflects: ``list_lag`` ago."""
    lag = 0.0 if state.config.lenient else state.config.list_lag
    return state.now() - lag


def filter_runs(state: EmulatorState, request: Request, runs: list[Run]) -> list[Run]:
    """Apply the ``filter[...]`` query parameters of runs.list (as the lagging replica sees runs)."""
    q = request.query_params
    statuses = _split(q, "filter[status]")
    wanted: set[str] | None = None
    if statuses:
        bad = [s for s in statuses if s not in FILTER_STATUSES]
        if bad:
            raise _query_error(f"Invalid status values: {', '.join(bad)}")
        wanted = set().union(*(FILTER_STATUSES[s] for s in statuses))
    is_test = q.get("filter[isTest]")
    if is_test and is_test not in {"true", "false"}:
        raise _query_error(f"Invalid value for isTest: {is_test}")
    machines = _split(q, "filter[machine]")
    if machines and (bad := [m for m in machines if m not in MACHINES]):
        raise _query_error(f"Invalid machine values: {', '.join(bad)}")
    tasks, versions = _split(q, "filter[taskIdentifier]"), _split(q, "filter[version]")
    tags, queues, regions = _split(q, "filter[tag]"), _split(q, "filter[queue]"), _split(q, "filter[region]")
    start, end = _date_param(q, "filter[createdAt][from]"), _date_param(q, "filter[createdAt][to]")
    period = q.get("filter[createdAt][period]")
    if period and (seconds := duration_seconds(period)) is not None:
        start = max(start or 0.0, state.now() - seconds)
    now = replica_time(state)

    def keep(run: Run) -> bool:
        checks = [
            run.created_at <= now,
            wanted is None or state.view(run, now).status in wanted,
            tasks is None or run.task in tasks,
            versions is None or run.version in versions,
            tags is None or bool(set(tags) & set(run.tags)),
            queues is None or run.queue in queues,
            regions is None or run.region in regions,
            machines is None or run.machine in machines,
            not is_test or run.is_test == (is_test == "true"),
            not q.get("filter[batch]") or run.batch_id == q.get("filter[batch]"),
            not q.get("filter[schedule]") or run.schedule_id == q.get("filter[schedule]"),
            not q.get("filter[bulkAction]") or q.get("filter[bulkAction]") in run.bulk_action_ids,
            start is None or run.created_at >= start,
            end is None or run.created_at <= end,
        ]
        return all(checks)

    return [r for r in runs if keep(r)]


def list_runs(request: Request, state: EmulatorState, runs: list[Run]) -> dict[str, Any]:
    with state.lock:
        rows = filter_runs(state, request, runs)
        page, pagination = cursor_page(request, rows, lambda r: r.id)
        now, version = replica_time(state), api_version(request)
        return {
            "data": [list_item(r, state.view(r, now), now, version) for r in page],
            "pagination": pagination,
        }


@router.get("/api/v1/runs")
async def list_env_runs(request: Request, env: SecretEnv) -> dict[str, Any]:
    state = state_of(request)
    return list_runs(request, state, runs_of(state, env))


@router.get("/api/v1/projects/{project_ref}/runs")
async def list_project_runs(project_ref: str, request: Request, _: Annotated[str, Depends(pat_user)]) -> Any:
    state = state_of(request)
    if project_ref not in state.project_refs:
        raise ApiError(404, "Project not found")
    slugs = _split(request.query_params, "filter[env]") or []
    env = next((e for s in slugs if (e := state.env_by_slug(project_ref, s)) is not None), None)
    if env is None:
        raise ApiError(
            500, "Internal Server Error"
        )  # the server's ServiceValidationError("No environment found")
    return list_runs(request, state, runs_of(state, env))


def retrieve_object(
    state: EmulatorState, run: Run, version: str | None, base_url: str = ""
) -> dict[str, Any]:
    """The ``GET /api/v3/runs/{id}`` body; offloaded packets become presigned URLs on ``base_url``."""
    now = state.now()
    v = state.view(run, now)
    body = common(run, v, now, version)
    body.update(presigned_io(state, run, v.status == "COMPLETED_SUCCESSFULLY", base_url, parse_packet))
    if (error := error_object(run, v)) is not None:
        body["error"] = error
    children = [c for c in state.stores.runs.values() if c.parent_id == run.id]
    parent = state.stores.runs.get(run.parent_id or "")
    body.update(
        {
            "attemptCount": 1 if v.started_at is not None else 0,
            "attempts": [],
            "relatedRuns": {
                k: val
                for k, val in {
                    "root": common(parent, state.view(parent, now), now, version) if parent else None,
                    "parent": common(parent, state.view(parent, now), now, version) if parent else None,
                    "children": [common(c, state.view(c, now), now, version) for c in children],
                }.items()
                if val is not None
            },
        }
    )
    if run.schedule_id and (schedule := state.stores.schedules.get(run.schedule_id)):
        body["schedule"] = {
            "id": schedule.id,
            "externalId": schedule.external_id,
            "generator": {"type": "CRON", "expression": schedule.cron, "description": schedule.cron},
        }
    return {k: val for k, val in body.items() if val is not None}


@router.get("/api/v3/runs/{run_id}")
async def retrieve_run(run_id: str, request: Request, env: SecretEnv) -> JSONResponse:
    state = state_of(request)
    with state.lock:
        run = find_run(state, env, run_id)
        if run is None:
            return JSONResponse({"error": "Not found"}, 404, headers={"x-should-retry": "true"})
        return JSONResponse(retrieve_object(state, run, api_version(request), str(request.base_url)))


@router.post("/api/v2/runs/{run_id}/cancel")
async def cancel_run(run_id: str, request: Request, env: SecretEnv) -> dict[str, str]:
    state = state_of(request)
    run = find_run(state, env, run_id)
    if run is None:
        raise ApiError(404, "Run not found")
    cancel(state, run)
    return {"id": run.id}


@router.post("/api/v1/runs/{run_id}/replay")
async def replay_run(run_id: str, request: Request, env: SecretEnv) -> dict[str, str]:
    state = state_of(request)
    run = find_run(state, env, run_id)
    if run is None:
        raise ApiError(404, "Run not found")
    return {"id": replay(state, run).id}


class RescheduleBody(BaseModel):
    delay: str


@router.post("/api/v1/runs/{run_id}/reschedule")
async def reschedule_run(run_id: str, request: Request) -> JSONResponse:
    state = state_of(request)
    try:
        env = legacy_secret_env(request)
    except ApiError:
        raise ApiError(401, "Invalid or missing API Key") from None
    raw = await read_json(request, legacy=True)
    body = legacy_validate(RescheduleBody, raw)
    with state.lock:
        now = state.now()
        until = delay_until(body.delay, now)
        if until is None:
            raise ApiError(400, f"Invalid delay: {body.delay}")
        run = find_run(state, env, run_id)
        if run is None:
            raise ApiError(404, "Run not found")
        if state.view(run, now).status != "DELAYED":
            raise ApiError(422, "Cannot reschedule a run that is not delayed")
        run.delay_until, run.touched_at = until, now
        return JSONResponse(retrieve_object(state, run, api_version(request), str(request.base_url)))


@router.get("/api/v1/runs/{run_id}/result")
async def run_result(run_id: str, request: Request, env: LegacyEnv) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        run = find_run(state, env, run_id)
        view = state.view(run) if run else None
        if run is None or view is None or not view.finished:
            raise ApiError(404, "Run either doesn't exist or is not finished")
        return execution_result(run, view.status, view)


def execution_result(run: Run, status: str, view: Any) -> dict[str, Any]:
    """A ``TaskRunExecutionResult`` for a finished run."""
    usage = {
        "durationMs": int(((view.completed_at or 0) - (view.started_at or 0)) * 1000)
        if view.started_at
        else 0
    }
    if status == "COMPLETED_SUCCESSFULLY":
        result: dict[str, Any] = {"ok": True, "id": run.id, "outputType": run.output_type, "usage": usage}
        if run.output is not None:
            result["output"] = run.output
        result["taskIdentifier"] = run.task
        return result
    error = error_object(run, view) or {"message": status}
    return {
        "ok": False,
        "id": run.id,
        "error": {
            "type": "BUILT_IN_ERROR",
            "name": error.get("name", "Error"),
            "message": error["message"],
            "stackTrace": error.get("stackTrace", ""),
        },
        "usage": usage,
        "taskIdentifier": run.task,
    }
