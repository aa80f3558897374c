"""The emulator's in-memory store: credentials, environments and every object the API serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .faults import FaultInjector, RateLimit, RateLimiter
from .lifecycle import RunView, next_change, view
from .models import (
    Batch,
    BulkAction,
    Deployment,
    Environment,
    EnvVar,
    Queue,
    Run,
    Schedule,
    TaskBehaviour,
    Waitpoint,
    friendly_id,
)
from .packets import PacketStore
from .realtime import RealtimeState
from .requestlog import RequestLog
from .waiting import token_wait

PROJECT_REF = "proj_emulatorlocalproject"
OTHER_PROJECT_REF = "proj_emulatorotherproject"
DEFAULT_KEYS = {
    "dev": "tr_dev_EmulatorDevSecretKey0001",
    "staging": "tr_stg_EmulatorStgSecretKey0001",
    "prod": "tr_prod_EmulatorProdSecretKey001",
    "preview": "tr_preview_EmulatorPreviewKey001",
}
OTHER_PROJECT_KEYS = {"dev": "tr_dev_OtherProjectDevKey000001", "prod": "tr_prod_OtherProjectProdKey00001"}
DEFAULT_PAT = "tr_pat_EmulatorPersonalAccessToken000000001"
_ENV_TYPES = {"dev": "DEVELOPMENT", "stg": "STAGING", "prod": "PRODUCTION", "preview": "PREVIEW"}


def _api_limit() -> RateLimit:
    return RateLimit(750, 250, 10.0)  # API_RATE_LIMIT_* in apps/webapp/app/env.server.ts


def _jwt_limit() -> RateLimit:
    return RateLimit(60, 60, 60.0)  # API_RATE_LIMIT_JWT_* (a 1 min fixed window upstream)


def _batch_limit() -> RateLimit:
    return RateLimit(1200, 100, 10.0)  # BATCH_RATE_LIMIT_* (counted in items)


@dataclass
class EmulatorConfig:
    """Knobs; :meth:`EmulatorState.reset` restores these defaults (production's behaviour).

    Times are seconds of the state's clock. ``lenient=True`` restores the emulator's old, kinder
    behaviour for tests that need speed or simplicity: every task id runs (echoing its payload), no
    rate limits, batch items become runs while they are posted, the runs list is never behind.
    ``strict_tasks`` (not production): undeclared tasks get 404 "Task not found" and schedules 422.
    ``rate_limit`` / ``jwt_rate_limit`` / ``batch_rate_limit``: ``None`` turns a limiter off.
    ``batch_processing_time`` + ``batch_item_time`` * items: how long after sealing a v3 batch's
    items are processed.
    ``list_lag``: seconds the runs list (a ClickHouse replica upstream) trails retrieve.
    ``queue_size_limit``: queued runs an environment may hold (batch items beyond it fail).
    """

    default_duration: float = 0.2
    default_queue_time: float = 0.05
    bulk_action_duration: float = 0.2
    lenient: bool = False
    strict_tasks: bool = False
    auto_create_branches: bool = True
    rate_limit: RateLimit | None = field(default_factory=_api_limit)
    jwt_rate_limit: RateLimit | None = field(default_factory=_jwt_limit)
    batch_rate_limit: RateLimit | None = field(default_factory=_batch_limit)
    batch_processing_time: float = 0.2
    batch_item_time: float = 0.005
    list_lag: float = 1.0
    queue_size_limit: int | None = None
    # Realtime (issue 11)
    realtime_hold_timeout: float = 2.0
    realtime_electric_mode: bool = False
    realtime_partial_updates: bool = False
    realtime_live_limit: int | None = None
    realtime_poll_interval: float = 0.05
    # Packets (issue 15): outputs >= 128 KB and payloads >= 512 KB go to the object store, as in production
    offload_packets: bool = True

    def offloads_packets(self) -> bool:
        """Large packets are offloaded unless ``offload_packets`` is off or a ``lenient`` switch is on."""
        return self.offload_packets and not getattr(self, "lenient", False)


class ManualClock:
    """A clock tests move by hand: ``state.clock = clock = ManualClock(); clock.advance(5)``."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Stores:
    runs: dict[str, Run] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    envvars: dict[str, dict[str, EnvVar]] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    queue_index: dict[tuple[str, str], Queue] = field(default_factory=dict)  # (env id, name) -> queue
    waitpoints: dict[str, Waitpoint] = field(default_factory=dict)
    bulk_actions: dict[str, BulkAction] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    sessions: dict[str, Any] = field(default_factory=dict)  # id -> routes.sessions.Session
    error_status: dict[str, dict[str, Any]] = field(default_factory=dict)  # error id -> decision
    debounce: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (env id, task, key) -> run
    # (env id, task, key) -> run id
    idempotency: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # scoped request key -> (expires at, cached response)
    request_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)


class EmulatorState:
    """Thread-safe in-memory state. Route handlers and tests share it through ``lock``."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        clock: Callable[[], float] | None = None,
        *,
        tasks: Iterable[str | TaskBehaviour] = (),
        queues: Iterable[str] = (),
    ) -> None:
        self.lock = threading.RLock()
        self._initial_tasks = [t if isinstance(t, TaskBehaviour) else TaskBehaviour(t) for t in tasks]
        self._initial_queues = list(queues)
        self.stopping = False  # set by EmulatorServer.stop(): held realtime requests answer at once
        self.version = 0  # bumped by every mutating request; lets held realtime requests sleep cheaply
        self._initial_config = config
        self.config = config or EmulatorConfig()
        self.clock: Callable[[], float] = clock or time.time
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.rate_limiter = RateLimiter()
        self.batch_rate_limiter = RateLimiter()
        self.keys = dict(DEFAULT_KEYS)
        self.pat = DEFAULT_PAT
        self.pats = {DEFAULT_PAT}
        self.project_ref = PROJECT_REF
        self.project_refs = {PROJECT_REF, OTHER_PROJECT_REF}
        self.envs: dict[str, Environment] = {}
        for slug, key in (("dev", self.keys["dev"]), ("stg", self.keys["staging"])):
            self._add_env(PROJECT_REF, slug, key)
        self._add_env(PROJECT_REF, "prod", self.keys["prod"])
        self._add_env(PROJECT_REF, "preview", self.keys["preview"])
        self._add_env(OTHER_PROJECT_REF, "dev", OTHER_PROJECT_KEYS["dev"])
        self._add_env(OTHER_PROJECT_REF, "prod", OTHER_PROJECT_KEYS["prod"])
        self.reset()

    # ----- credentials and environments -----------------------------------------------------------
    def _add_env(self, project_ref: str, slug: str, key: str) -> None:
        env_id = f"env_{project_ref.removeprefix('proj_')[:12]}_{slug}"
        self.envs[key] = Environment(env_id, slug, _ENV_TYPES[slug], project_ref, key)

    def env_by_key(self, key: str) -> Environment | None:
        return self.envs.get(key)

    def env_by_slug(self, project_ref: str, slug: str) -> Environment | None:
        return next((e for e in self.envs.values() if e.project_ref == project_ref and e.slug == slug), None)

    @property
    def secret_key(self) -> str:
        return self.keys["dev"]

    def env(self, name: str = "dev") -> Environment:
        """The default project's environment for ``dev``/``staging``/``prod``/``preview``."""
        return self.envs[self.keys[name]]

    def add_branch(self, parent: Environment | str, branch: str) -> Environment:
        """Create (or return) a branch env under a dev or preview environment."""
        parent_env = self.env(parent) if isinstance(parent, str) else parent
        with self.lock:
            existing = self.branches.get((parent_env.id, branch))
            if existing:
                return existing
            child = Environment(
                f"{parent_env.id}_{branch}",
                parent_env.slug,
                parent_env.type,
                parent_env.project_ref,
                parent_env.api_key,
                branch=branch,
                parent=parent_env,
            )
            self.branches[(parent_env.id, branch)] = child
            return child

    def branch_env(self, parent: Environment, branch: str) -> Environment | None:
        found = self.branches.get((parent.id, branch))
        if found is None and self.config.auto_create_branches:
            found = self.add_branch(parent, branch)
        return found

    # ----- time and tasks -------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def set_task(self, behaviour: TaskBehaviour | str) -> None:
        """Deploy a task (to every environment) with what it does on its next trigger.

        Runs already waiting in PENDING_VERSION for it (and a deployed queue) start now.
        """
        if isinstance(behaviour, str):
            behaviour = TaskBehaviour(behaviour)
        with self.lock:
            self.tasks[behaviour.task] = behaviour
            if behaviour.queue:
                self.declared_queues.add(behaviour.queue)
            self._release_pending(behaviour.task)

    def declare_tasks(self, *tasks: str | TaskBehaviour) -> None:
        """Deploy several tasks at once (ids keep the default behaviour: echo the payload)."""
        for task in tasks:
            self.set_task(task)

    def declare_queue(self, name: str) -> None:
        """Deploy a custom queue (``queue({name})`` in task code); runs waiting on it start now."""
        with self.lock:
            self.declared_queues.add(name)
            self._release_pending(None)

    def _release_pending(self, task: str | None) -> None:
        from .triggering import deploy_pending

        for run in self.stores.runs.values():
            if run.deployed_at is None and (task is None or run.task == task):
                deploy_pending(self, run)

    def is_deployed(self, task: str) -> bool:
        """Whether a deployed version runs ``task`` (always, when lenient)."""
        return self.config.lenient or task in self.tasks

    def queue_deployed(self, task: str, name: str) -> bool:
        """Whether ``name`` exists on the deployed version (``task/<id>`` of a deployed task, or declared)."""
        if self.config.lenient:
            return True
        if name.startswith("task/"):
            return name.removeprefix("task/") in self.tasks
        return name in self.declared_queues

    def behaviour(self, task: str) -> TaskBehaviour | None:
        """The task's behaviour; ``None`` when strict mode says the task does not exist."""
        found = self.tasks.get(task)
        if found is None and not self.config.strict_tasks:
            return TaskBehaviour(task)
        return found

    def view(self, run: Run, now: float | None = None) -> RunView:
        queue = self.find_queue(run.env, run.queue)
        paused = queue.paused_intervals if queue else None
        return view(run, self.now() if now is None else now, paused, token_wait(self, run))

    def next_change(self, run: Run, now: float) -> float:
        """When the run's derived state may next change on its own (see ``lifecycle.next_change``)."""
        queue = self.find_queue(run.env, run.queue)
        return next_change(run, now, queue.paused_intervals if queue else None, token_wait(self, run))

    # ----- queues ---------------------------------------------------------------------------------
    def find_queue(self, env: Environment, name: str) -> Queue | None:
        return self.stores.queue_index.get((env.id, name))

    def ensure_queue(self, env: Environment, name: str) -> Queue:
        with self.lock:
            queue = self.find_queue(env, name)
            if queue is None:
                kind = "task" if name.startswith("task/") else "custom"
                queue = Queue(friendly_id("queue"), env, name, kind)
                self.stores.queues[queue.id] = queue
                self.stores.queue_index[(env.id, name)] = queue
            return queue

    # ----- convenience for tests ------------------------------------------------------------------
    @property
    def runs(self) -> dict[str, Run]:
        return self.stores.runs

    def run_status(self, run_id: str) -> str:
        """The run's current public status (2025-07-16 vocabulary)."""
        from .lifecycle import api_status

        return api_status(self.view(self.stores.runs[run_id]).status, "2025-07-16")

    def add_schedule(self, task: str, cron: str, *, env: str = "dev", declarative: bool = False) -> Schedule:
        """Seed a schedule, e.g. a DECLARATIVE one (``cron`` in task code) that the API cannot update."""
        with self.lock:
            key = f"{task}-declarative" if declarative else friendly_id("dedup", 12)
            schedule = Schedule(
                friendly_id("sched"),
                self.env(env),
                task,
                cron,
                key,
                user_dedup_key=False,
                type="DECLARATIVE" if declarative else "IMPERATIVE",
                created_at=self.now(),
            )
            self.stores.schedules[schedule.id] = schedule
            return schedule

    def add_deployment(self, version: str, *, env: str = "dev", status: str = "DEPLOYED") -> Deployment:
        with self.lock:
            deployment = Deployment(
                friendly_id("deployment"), self.env(env), version, friendly_id("x", 8)[2:], self.now(), status
            )
            self.stores.deployments.append(deployment)
            return deployment

    def reset(self) -> None:
        """Forget every object, fault, logged request and behaviour; restore default config/clock.

        Tasks and queues given to the constructor stay deployed.
        """
        with self.lock:
            self.stores = Stores()
            self.tasks: dict[str, TaskBehaviour] = {t.task: t for t in self._initial_tasks}
            self.declared_queues: set[str] = set(self._initial_queues) | {
                t.queue for t in self._initial_tasks if t.queue
            }
            self.branches: dict[tuple[str, str], Environment] = {}
            self.config = (
                EmulatorConfig(**vars(self._initial_config)) if self._initial_config else EmulatorConfig()
            )
            self.clock = time.time
            self.faults.clear()
            self.requests.clear()
            self.rate_limiter.reset()
            self.batch_rate_limiter.reset()
            self.realtime = RealtimeState()
            self.packets = PacketStore()
            self.version += 1
            for env in {e.id: e for e in self.envs.values()}.values():
                base = self.clock()
                for n, version in enumerate(("20260101.1", "20260101.2")):
                    self.stores.deployments.append(
                        Deployment(
                            f"deployment_{env.slug}{n}emulator",
                            env,
                            version,
                            f"sc{n}{env.slug}",
                            base - 3600 + n,
                        )
                    )

    def summary(self) -> dict[str, Any]:
        """A JSON-able overview (``GET /_emulator/state``)."""
        from .lifecycle import api_status

        with self.lock:
            now = self.now()
            return {
                "runs": [
                    {
                        "id": r.id,
                        "taskIdentifier": r.task,
                        "env": r.env.slug,
                        "status": api_status(self.view(r, now).status, "2025-07-16"),
                        "tags": r.tags,
                    }
                    for r in self.stores.runs.values()
                ],
                "envvars": {
                    env_id: {k: ("<secret>" if v.is_secret else v.value) for k, v in vs.items()}
                    for env_id, vs in self.stores.envvars.items()
                },
                "schedules": [
                    {"id": s.id, "task": s.task, "cron": s.cron, "active": s.active, "type": s.type}
                    for s in self.stores.schedules.values()
                ],
                "batches": [{"id": b.id, "runCount": b.run_count} for b in self.stores.batches.values()],
                "queues": [
                    {"id": q.id, "name": q.name, "paused": q.paused} for q in self.stores.queues.values()
                ],
            }
