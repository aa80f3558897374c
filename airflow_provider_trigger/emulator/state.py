"""The emulator's in-memory store: credentials, environments and every object the API serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


@dataclass
class EmulatorConfig:
    """Knobs; :meth:`EmulatorState.reset` restores these defaults.

    Times are seconds of the state's clock. ``strict_tasks``: only tasks given a behaviour exist
    (others: trigger 404 "Task not found", schedules 422).
    """

    default_duration: float = 0.2
    default_queue_time: float = 0.05
    bulk_action_duration: float = 0.2
    strict_tasks: bool = False
    auto_create_branches: bool = True
    rate_limit: RateLimit | None = None
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
    sessions: dict[str, Any] = field(default_factory=dict)  # id -> routes.extras.Session
    error_status: dict[str, dict[str, Any]] = field(default_factory=dict)  # error id -> decision
    # (env id, task, key) -> run id
    idempotency: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # scoped request key -> (expires at, cached response)
    request_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)


class EmulatorState:
    """Thread-safe in-memory state. Route handlers and tests share it through ``lock``."""

    def __init__(
        self, config: EmulatorConfig | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.stopping = False  # set by EmulatorServer.stop(): held realtime requests answer at once
        self.version = 0  # bumped by every mutating request; lets held realtime requests sleep cheaply
        self._initial_config = config
        self.config = config or EmulatorConfig()
        self.clock: Callable[[], float] = clock or time.time
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.rate_limiter = RateLimiter()
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

    def set_task(self, behaviour: TaskBehaviour) -> None:
        """Configure what a task identifier does on its next trigger."""
        with self.lock:
            self.tasks[behaviour.task] = behaviour

    def behaviour(self, task: str) -> TaskBehaviour | None:
        """The task's behaviour; ``None`` when strict mode says the task does not exist."""
        found = self.tasks.get(task)
        if found is None and not self.config.strict_tasks:
            return TaskBehaviour(task)
        return found

    def view(self, run: Run, now: float | None = None) -> RunView:
        queue = self.find_queue(run.env, run.queue)
        return view(run, self.now() if now is None else now, queue.paused_intervals if queue else None)

    def next_change(self, run: Run, now: float) -> float:
        """When the run's derived state may next change on its own (see ``lifecycle.next_change``)."""
        queue = self.find_queue(run.env, run.queue)
        return next_change(run, now, queue.paused_intervals if queue else None)

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
        """Forget every object, fault, logged request and behaviour; restore default config/clock."""
        with self.lock:
            self.stores = Stores()
            self.tasks: dict[str, TaskBehaviour] = {}
            self.branches: dict[tuple[str, str], Environment] = {}
            self.config = (
                EmulatorConfig(**vars(self._initial_config)) if self._initial_config else EmulatorConfig()
            )
            self.clock = time.time
            self.faults.clear()
            self.requests.clear()
            self.rate_limiter.reset()
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
