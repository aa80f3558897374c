"""A real Airflow 3 deployment on 127.0.0.1: Postgres, the emulator and Airflow's components as
separate processes in a temporary home, driven over Airflow's REST API and the emulator's control API.

``with Deployment.start(tmp) as dep: run = dep.trigger("example_trigger_task"); dep.wait(run)`` —
every process it started is stopped by PID when the block ends, whether the test passed or not.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ._postgres import Postgres
from ._processes import Component, ComponentFailed, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = sorted((REPO / "tests" / "system").glob("example_*.py"))
CHAOS_DAGS = [Path(__file__).with_name("dags") / "chaos_dags.py"]
SECRET_KEY = "tr_dev_EmulatorDevSecretKey0001"
PROJECT_REF = "proj_emulatorlocalproject"
FINISHED = {"success", "failed"}
#: Triggerer heartbeats, and how stale one may get before the scheduler reassigns its triggers.
HEARTBEAT = 2.0
HEALTH_THRESHOLD = 10.0


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str


def _base_env() -> dict[str, str]:
    """The caller's environment without its Airflow and Trigger.dev settings (a test session has some)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TRIGGER_"))}


class Deployment:
    """The processes of one deployment and the clients that drive it."""

    def __init__(
        self,
        home: Path,
        *,
        triggerers: int = 2,
        dags: Iterable[Path] = (*EXAMPLE_DAGS, *CHAOS_DAGS),
        triggerer_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.logs = home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.dags_folder = home / "dags"
        self.dags_folder.mkdir(exist_ok=True)
        for dag in dags:
            shutil.copy(dag, self.dags_folder)
        for extra in (REPO / "tests" / "system").glob("*.env"):
            shutil.copy(extra, self.dags_folder)
        self.triggerer_count = triggerers
        self.components: dict[str, Component] = {}
        self.api_port = free_port()
        self.emulator_port = free_port()
        self.env = _base_env()
        self.postgres: Postgres | None = None
        self._api: httpx.Client | None = None
        self.triggerer_jobs: dict[str, int] = {}
        self.triggerer_env = dict(triggerer_env or {})

    # -- start and stop ---------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def start(cls, home: Path, **kwargs: Any) -> Iterator[Deployment]:
        deployment = cls(home, **kwargs)
        try:
            deployment._start_all()
            yield deployment
        finally:
            deployment.stop()

    def _airflow_env(self) -> dict[str, str]:
        assert self.postgres is not None
        api = f"http://127.0.0.1:{self.api_port}"
        return {
            **self.env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "6",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": str(HEARTBEAT),
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(HEALTH_THRESHOLD),
            "AIRFLOW__TRIGGERER__RUNNER_HEALTH_CHECK_THRESHOLD": str(HEALTH_THRESHOLD),
            "AIRFLOW_CONN_TRIGGER_DEFAULT": (
                f'{{"conn_type": "trigger", "host": "{self.emulator_url}", "password": "{SECRET_KEY}",'
                f' "extra": {{"project_ref": "{PROJECT_REF}"}}}}'
            ),
            "PYTHONUNBUFFERED": "1",
        }

    _jwt_secret = secrets.token_urlsafe(32)

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _airflow(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Component:
        env = {**self._airflow_env(), **(extra_env or {})}
        argv = [sys.executable, "-m", "airflow", *args]
        component = Component(name, argv, env=env, log=self.logs / f"{name}.log").start()
        self.components[name] = component
        return component

    def _start_all(self) -> None:
        self.postgres = Postgres(self.home, self.env)
        self.components["postgres"] = self.postgres
        self.postgres.start()
        emulator = Component(
            "emulator",
            [
                *(sys.executable, "-m", "airflow_provider_trigger.emulator"),
                *("--port", str(self.emulator_port), "--duration", "2", "--queue-time", "0.2"),
            ],
            env=self.env,
            log=self.logs / "emulator.log",
        ).start()
        self.components["emulator"] = emulator
        emulator.wait_until(
            lambda: httpx.get(f"{self.emulator_url}/_emulator/state").is_success, "serving", 60
        )
        migrate = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self._airflow_env(),
            capture_output=True,
            text=True,
        )
        if migrate.returncode:
            log = self.logs / "db-migrate.log"
            log.write_text(migrate.stdout + migrate.stderr)
            raise ComponentFailed("airflow db migrate", f"exited with code {migrate.returncode}", log)
        api = self._airflow("api-server", "api-server")
        self._airflow("dag-processor", "dag-processor")
        self._airflow("scheduler", "scheduler")
        for n in range(1, self.triggerer_count + 1):
            self.start_triggerer(n)
        api.wait_until(lambda: httpx.get(f"{self.api_url}/api/v2/monitor/health").is_success, "healthy", 120)
        token = httpx.get(f"{self.api_url}/auth/token").json()["access_token"]
        self._api = httpx.Client(
            base_url=f"{self.api_url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.components["scheduler"].wait_until(self._scheduler_healthy, "heartbeating", 120)

    def start_triggerer(self, n: int) -> Component:
        """Start (or restart) ``triggerer-n``; returns once it has registered its triggerer job."""
        name = f"triggerer-{n}"
        old = self.components.get(name)
        if old is not None:
            old.stop()
        known = self._triggerer_jobs()
        component = self._airflow(
            name,
            "triggerer",
            extra_env={"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()), **self.triggerer_env},
        )
        component.wait_until(
            lambda: bool(self._triggerer_jobs() - known), "registered as a triggerer job", 120
        )
        self.triggerer_jobs[name] = max(self._triggerer_jobs() - known)
        return component

    def _scheduler_healthy(self) -> bool:
        return self.health()["scheduler"]["status"] == "healthy"

    def stop(self) -> None:
        """Stop every component, newest first (Postgres last), each by its PID."""
        if self._api is not None:
            self._api.close()
        for component in reversed(list(self.components.values())):
            with suppress(Exception):
                component.stop()

    # -- Airflow's REST API -----------------------------------------------------------------------
    @property
    def api(self) -> httpx.Client:
        if self._api is None:
            raise RuntimeError("the deployment is not started")
        return self._api

    def _json(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise AssertionError(
                f"{response.request.method} {response.url}: {response.status_code} {response.text}"
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.api_url}/api/v2/monitor/health").json())

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180) -> None:
        """Until the dag processor has parsed every one of ``dag_ids``."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while True:
            found = {d["dag_id"] for d in self._all("/dags", "dags")}
            errors = self._json(self.api.get("/importErrors"))["import_errors"]
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            if wanted <= found:
                return
            if time.monotonic() > deadline:
                raise ComponentFailed(
                    "dag-processor",
                    f"had not parsed {sorted(wanted - found)}",
                    self.logs / "dag-processor.log",
                )
            time.sleep(1)

    def unpause(self, dag_id: str, paused: bool = False) -> None:
        self._json(self.api.patch(f"/dags/{dag_id}", json={"is_paused": paused}))

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> DagRun:
        body = {"logical_date": None, "conf": conf or {}}
        run = self._json(self.api.post(f"/dags/{dag_id}/dagRuns", json=body))
        return DagRun(dag_id, run["dag_run_id"])

    def _all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged listing (the API caps a page at 100)."""
        items: list[dict[str, Any]] = []
        while True:
            page = self._json(self.api.get(path, params={**params, "limit": 100, "offset": len(items)}))
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self._all(f"/dags/{dag_id}/dagRuns", "dag_runs")

    def run_state(self, run: DagRun) -> str:
        return str(self._json(self.api.get(f"/dags/{run.dag_id}/dagRuns/{run.run_id}"))["state"])

    def wait(self, *runs: DagRun, timeout: float = 300) -> dict[DagRun, str]:
        """Until every run has finished; their final states. A timeout names the unfinished ones."""
        deadline = time.monotonic() + timeout
        pending = set(runs)
        states: dict[DagRun, str] = {}
        while pending:
            for run in list(pending):
                state = self.run_state(run)
                if state in FINISHED:
                    states[run] = state
                    pending.discard(run)
            if pending and time.monotonic() > deadline:
                detail = {r.run_id: self.task_states(r) for r in list(pending)[:5]}
                raise AssertionError(f"{len(pending)} DAG runs unfinished after {timeout:.0f} s: {detail}")
            if pending:
                time.sleep(1)
        return states

    def task_instances(self, run: DagRun) -> list[dict[str, Any]]:
        return self._all(f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances", "task_instances")

    def task_states(self, run: DagRun) -> dict[str, str | None]:
        states = {}
        for ti in self.task_instances(run):
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            states[key] = ti["state"]
        return states

    def task_log(self, run: DagRun, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        path = f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/{task_id}/logs/{try_number}"
        body = self._json(self.api.get(path, params={"map_index": map_index, "full_content": True}))
        content = body.get("content", [])
        return "\n".join(c.get("event", "") if isinstance(c, dict) else str(c) for c in content)

    def set_task_state(self, run: DagRun, task_id: str, state: str, map_index: int = -1) -> None:
        """What a user does in the UI: mark a task instance ``state`` (e.g. failed)."""
        path = f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        self._json(self.api.patch(path, json={"new_state": state}))

    def xcom(self, run: DagRun, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self._json(self.api.get(path, params={"deserialize": True}))["value"]

    # -- assets and their watchers -------------------------------------------------------------------
    def asset_id(self, name: str) -> int:
        assets = self._json(self.api.get("/assets", params={"name_pattern": name}))["assets"]
        return int(next(a["id"] for a in assets if a["name"] == name))

    def asset_event_run_ids(self, asset_id: int) -> list[str]:
        """The Trigger.dev run id of every asset event of the asset (one entry per event)."""
        events = self._all("/assets/events", "asset_events", asset_id=asset_id)
        return [str((e.get("extra") or {}).get("payload", {}).get("run_id")) for e in events]

    def watcher_triggerer(self, asset_id: int) -> str | None:
        """The triggerer component running the asset's watcher trigger, if one holds it."""
        assert self.postgres is not None
        sql = (
            "select t.triggerer_id from trigger t join asset_watcher w on w.trigger_id = t.id"
            f" where w.asset_id = {int(asset_id)}"
        )
        jobs = [int(j) for j in self.postgres.psql(sql, "airflow").split() if j]
        return self.triggerer_of(jobs[0]) if jobs else None

    def wait_until_watching(self, asset_id: int, timeout: float = 180) -> str:
        """Until a triggerer runs the asset's watcher and it has logged that it is watching."""
        deadline = time.monotonic() + timeout
        while True:
            name = self.watcher_triggerer(asset_id)
            if name is not None and "Watching Trigger.dev runs" in self.component_log(name):
                return name
            if time.monotonic() > deadline:
                raise AssertionError(f"no triggerer is running the watcher of asset {asset_id}")
            time.sleep(1)

    def wait_task_state(self, run: DagRun, task_id: str, states: set[str], timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = self.task_states(run).get(task_id)
            if state in states:
                return str(state)
            if time.monotonic() > deadline:
                raise AssertionError(f"{run.dag_id}.{task_id} still {state}, not in {sorted(states)}")
            time.sleep(0.5)

    # -- the emulator's control API -----------------------------------------------------------------
    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.emulator_url}/_emulator/{path}", json=body, timeout=30)
        return self._json(response)

    def emulator_runs(self, task: str | None = None) -> list[dict[str, Any]]:
        runs = self.emulator("GET", "state")["runs"]
        return [r for r in runs if task is None or r["taskIdentifier"] == task]

    def emulator_requests(self) -> list[dict[str, Any]]:
        return list(self.emulator("GET", "requests"))

    def start_runs(self, task: str, count: int) -> list[str]:
        """Trigger ``count`` runs of ``task`` on the emulator directly (not through Airflow)."""
        headers = {"Authorization": f"Bearer {SECRET_KEY}"}
        url = f"{self.emulator_url}/api/v1/tasks/{task}/trigger"
        return [
            self._json(httpx.post(url, json={"payload": {"n": n}}, headers=headers, timeout=30))["id"]
            for n in range(count)
        ]

    # -- chaos ---------------------------------------------------------------------------------------
    def triggerer_names(self) -> list[str]:
        return [f"triggerer-{n}" for n in range(1, self.triggerer_count + 1)]

    def restore(self) -> None:
        """Back to a healthy deployment: every triggerer running (none stopped), no emulator faults."""
        import signal

        for n, name in enumerate(self.triggerer_names(), start=1):
            component = self.components.get(name)
            if component is None or not component.alive():
                self.start_triggerer(n)
            else:
                component.signal(signal.SIGCONT)
        self.emulator("DELETE", "faults")

    def triggers_by_triggerer(self) -> dict[int | None, int]:
        """Trigger rows per triggerer job id (``None``: not assigned), read from Postgres."""
        assert self.postgres is not None
        rows = self.postgres.psql("select triggerer_id, count(*) from trigger group by 1", "airflow")
        counts: dict[int | None, int] = {}
        for line in rows.splitlines():
            job, count = line.split("|")
            counts[int(job) if job else None] = int(count)
        return counts

    def _triggerer_jobs(self) -> set[int]:
        assert self.postgres is not None
        rows = self.postgres.psql("select id from job where job_type = 'TriggererJob'", "airflow")
        return {int(line) for line in rows.split()}

    def triggerer_of(self, job_id: int | None) -> str | None:
        """The component name of the triggerer holding job ``job_id``."""
        return next((name for name, job in self.triggerer_jobs.items() if job == job_id), None)

    def component_log(self, name: str) -> str:
        return self.components[name].log_text()
