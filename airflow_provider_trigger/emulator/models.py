"""Plain records the emulator keeps in memory: environments, runs, batches, schedules and friends."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ALPHABET = string.ascii_lowercase + string.digits

#: Internal (database) run statuses the emulator moves through.
FINAL_STATUSES = frozenset(
    {
        "COMPLETED_SUCCESSFULLY",
        "COMPLETED_WITH_ERRORS",
        "CANCELED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    }
)
#: Outcomes a task behaviour may end in (public names).
OUTCOMES = {
    "COMPLETED": "COMPLETED_SUCCESSFULLY",
    "FAILED": "COMPLETED_WITH_ERRORS",
    "CRASHED": "CRASHED",
    "SYSTEM_FAILURE": "SYSTEM_FAILURE",
    "TIMED_OUT": "TIMED_OUT",
}


#: Log levels a task's logger writes (``logger.debug/log/info/warn/error``).
LOG_LEVELS = ("debug", "log", "info", "warn", "error")


def friendly_id(prefix: str, length: int = 21) -> str:
    """A Trigger.dev style id such as ``run_…``."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ``2026-01-01T00:00:00.000Z`` (the server's JSON dates)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Environment:
    """A runtime environment (one secret key) of a project; branch envs have a parent."""

    id: str
    slug: str  # dev | stg | prod | preview
    type: str  # DEVELOPMENT | STAGING | PRODUCTION | PREVIEW
    project_ref: str
    api_key: str
    branch: str | None = None
    parent: Environment | None = None

    @property
    def key_env(self) -> Environment:
        """The environment owning the secret key (the parent for a branch)."""
        return self.parent or self


def _echo_payload(payload: Any) -> Any:
    return payload


@dataclass
class TaskBehaviour:
    """What a task identifier does when triggered.

    ``duration``/``queue_time`` are seconds (``None`` = the state's defaults). ``outcome`` is the final
    public status (COMPLETED, FAILED, CRASHED, SYSTEM_FAILURE, TIMED_OUT); ``fail="msg"`` is a shortcut
    for ``outcome="FAILED", error="msg"``. ``output`` is a constant or a function of the payload; the
    default echoes the payload. ``wait_for_token`` (a payload key, or a function of the payload,
    giving a ``waitpoint_…`` id) makes the run call ``wait.forToken(id).unwrap()`` as it starts: it
    stays EXECUTING until the token is completed, then runs ``duration`` and returns the completion
    data (unless ``output`` is given); a token that times out fails the run (WaitpointTimeoutError).
    ``logs`` are the lines the task writes (``logger.info`` …) as ``(level, message)`` pairs, level
    one of debug/log/info/warn/error; they are spread evenly over the run's execution and served by
    the run events route as they are "written". ``stack_trace`` replaces the failure's generated stack
    (its first line should be ``Error: <message>``).
    """

    task: str
    duration: float | None = None
    queue_time: float | None = None
    outcome: str = "COMPLETED"
    error: str = "Task failed"
    fail: str | None = None
    output: Any = _echo_payload
    scheduled: bool | None = None  # False: schedules for this task get 422 "not a scheduled task"
    queue: str | None = None  # the task's default custom queue (declared with it); None: task/<id>
    ttl: str | None = None  # the task's own default TTL (``"5m"``), as ``task({ttl})`` sets it
    logs: Sequence[tuple[str, str]] = ()
    stack_trace: str | None = None
    wait_for_token: str | Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.fail is not None:
            self.outcome, self.error = "FAILED", self.fail
        self.logs = tuple(self.logs)
        for entry in self.logs:
            if not (isinstance(entry, tuple) and len(entry) == 2 and str(entry[0]).lower() in LOG_LEVELS):
                raise ValueError(
                    f"logs take (level, message) pairs, level one of {LOG_LEVELS}; got {entry!r}"
                )
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")

    @property
    def echoes(self) -> bool:
        """True when ``output`` is the default (echo the payload, or a token's completion data)."""
        return self.output is _echo_payload

    def make_output(self, payload: Any) -> Any:
        return self.output(payload) if callable(self.output) else self.output


@dataclass
class Run:
    """A task run; its status is derived from timestamps by :mod:`.lifecycle`."""

    id: str
    internal_id: str
    env: Environment
    task: str
    payload: str | None
    payload_type: str
    created_at: float
    duration: float
    queue_time: float
    final_status: str  # internal status reached when execution ends
    output: str | None
    error: dict[str, Any] | None
    queue: str
    output_type: str = "application/json"
    tags: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    idempotency_key_user: str | None = None
    idempotency_key_expires_at: float | None = None
    delay_until: float | None = None
    ttl: int | None = None
    ttl_text: str | None = None
    max_duration: float | None = None
    metadata: str | None = None
    metadata_type: str = "application/json"
    machine: str | None = None
    region: str | None = None
    version: str | None = None
    is_test: bool = False
    batch_id: str | None = None
    schedule_id: str | None = None
    bulk_action_ids: list[str] = field(default_factory=list)
    parent_id: str | None = None
    replayed_from: str | None = None
    canceled_at: float | None = None
    touched_at: float = 0.0  # last manual change (tags, metadata, reschedule, cancel)
    trigger_function: str = "trigger"
    concurrency_key: str | None = None
    number: int = 0
    # None: no deployed version runs the task or its queue (PENDING_VERSION until its TTL or a deploy);
    # else when it became runnable (its creation time, or the later deploy of its task)
    deployed_at: float | None = 0.0
    debounce_key: str | None = None
    logs: tuple[tuple[str, str], ...] = ()  # the task's log lines (level, message), see TaskBehaviour
    waits_for: str | None = None  # the waitpoint token the run waits on as it starts (wait.forToken)
    output_from_token: bool = False  # its output is the token's completion data (set on completion)


@dataclass
class Batch:
    id: str
    internal_id: str
    env: Environment
    created_at: float
    run_count: int
    idempotency_key: str | None = None
    run_ids: dict[int, str] = field(default_factory=dict)  # item index -> run id (written when processed)
    errors: list[dict[str, Any]] = field(default_factory=list)
    sealed: bool = False
    sealed_at: float | None = None
    updated_at: float = 0.0
    task_identifiers: tuple[str, ...] = ()
    # v3 streaming batches (see batching.py): items enqueued by index until processed
    streamed: bool = False
    pending_items: dict[int, Any] = field(default_factory=dict)
    item_runs: dict[int, str] = field(default_factory=dict)  # runs created so far, by item index
    failures: list[dict[str, Any]] = field(default_factory=list)
    processed_at: float | None = None  # when processing completed: run_ids, counts, status written
    status: str = "PENDING"  # after processing: PENDING | PARTIAL_FAILED | ABORTED
    successful_count: int | None = None
    failed_count: int | None = None


@dataclass
class EnvVar:
    value: str
    is_secret: bool = False


@dataclass
class Schedule:
    id: str
    env: Environment
    task: str
    cron: str
    deduplication_key: str
    user_dedup_key: bool
    timezone: str = "UTC"
    external_id: str | None = None
    window: str | None = None
    active: bool = True
    type: str = "IMPERATIVE"
    created_at: float = 0.0


@dataclass
class Queue:
    id: str
    env: Environment
    name: str
    type: str  # task | custom
    concurrency_limit: int | None = None
    override: int | None = None
    overridden_at: float | None = None
    paused_intervals: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        return bool(self.paused_intervals) and self.paused_intervals[-1][1] is None


@dataclass
class Waitpoint:
    id: str
    env: Environment
    created_at: float
    hash: str
    idempotency_key: str | None = None
    idempotency_key_expires_at: float | None = None
    timeout_at: float | None = None
    tags: list[str] = field(default_factory=list)
    completed_at: float | None = None
    output: str | None = None
    output_type: str = "application/json"


@dataclass
class BulkAction:
    id: str
    env: Environment
    type: str  # CANCEL | REPLAY
    name: str | None
    run_ids: list[str]
    created_at: float
    duration: float
    aborted_at: float | None = None
    success: int = 0
    failure: int = 0
    applied: bool = False


@dataclass
class Deployment:
    id: str
    env: Environment
    version: str
    short_code: str
    created_at: float
    status: str = "DEPLOYED"

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": iso(self.created_at),
            "shortCode": self.short_code,
            "version": self.version,
            "runtime": "node",
            "runtimeVersion": "22.12.0",
            "status": self.status,
            "deployedAt": iso(self.created_at + 30),
            "git": None,
        }


def dumps(value: Any) -> str:
    """``JSON.stringify`` as the server stores packets."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


OutputFn = Callable[[Any], Any]
