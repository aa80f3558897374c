"""Creating runs: the trigger body, idempotency keys, the request replay cache and public JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import debounce as debouncing
from .errors import ApiError, zod_message
from .lifecycle import KEY_CLEARING, internal_error, parse_packet
from .models import OUTCOMES, Environment, Run, TaskBehaviour, dumps, friendly_id
from .packets import run_packets
from .parsing import delay_until, key_ttl_seconds, ttl_seconds
from .waiting import attach

if TYPE_CHECKING:
    from .state import EmulatorState

MACHINES = ("micro", "small-1x", "small-2x", "medium-1x", "medium-2x", "large-1x", "large-2x")
REQUEST_CACHE_TTL = 24 * 3600


class QueueOption(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None


class TriggerOptions(BaseModel):
    """``options`` of a trigger body (fields as the server names them)."""

    model_config = ConfigDict(extra="allow")
    queue: QueueOption | None = None
    concurrencyKey: str | int | None = None
    delay: str | None = None
    ttl: str | int | None = None
    idempotencyKey: str | None = Field(default=None, max_length=2048)
    idempotencyKeyTTL: str | None = None
    idempotencyKeyOptions: dict[str, Any] | None = None
    tags: str | list[str] | None = None
    maxAttempts: int | None = None
    maxDuration: float | None = None
    metadata: Any = None
    metadataType: str | None = None
    payloadType: str | None = None
    machine: Literal[MACHINES] | None = None  # type: ignore[valid-type]
    priority: float | None = None
    lockToVersion: str | None = None
    region: str | None = None
    test: bool | None = None
    parentRunId: str | None = None
    debounce: dict[str, Any] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: str | list[str] | None) -> str | list[str] | None:
        values = [value] if isinstance(value, str) else value or []
        if len(values) > 10:
            raise ValueError("Array must contain at most 10 element(s)")
        if any(len(t) > 128 for t in values):
            raise ValueError("String must contain at most 128 character(s)")
        return value


class TriggerBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    payload: Any = None
    context: Any = None
    options: TriggerOptions | None = None


class BatchItem(TriggerBody):
    task: str


def validate_body(model: type[BaseModel], raw: Any) -> Any:
    """Validate a parsed JSON body; a 400 naming the bad field on failure."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, zod_message(exc)) from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwt(
    env: Environment, scopes: list[str], now: float, ttl: int = 3600
) -> tuple[str, dict[str, Any]]:
    """An HS256 public access token signed with the env's key, as in ``x-trigger-jwt``."""
    claims = {"sub": env.key_env.id, "pub": True, "scopes": scopes, "iat": int(now), "exp": int(now) + ttl}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(env.api_key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}", claims


def jwt_headers(env: Environment, scope: str, now: float) -> dict[str, str]:
    """``x-trigger-jwt`` (1 h) and ``x-trigger-jwt-claims``; a run scope also grants its input streams."""
    scopes = [scope]
    if scope.startswith("read:runs:"):
        scopes.append(scope.replace("read:runs:", "write:inputStreams:", 1))
    token, claims = public_jwt(env, scopes, now)
    visible = {"sub": claims["sub"], "pub": True, "scopes": scopes}
    return {"x-trigger-jwt": token, "x-trigger-jwt-claims": json.dumps(visible, separators=(",", ":"))}


def _payload_packet(payload: Any, payload_type: str | None) -> tuple[str | None, str]:
    kind = payload_type or "application/json"
    if kind == "application/json":
        return (None if payload is None else dumps(payload)), kind
    return (payload if isinstance(payload, str) else None), kind


_INTERNAL_CODES = {
    "CRASHED": "TASK_PROCESS_EXITED_WITH_NON_ZERO_CODE",
    "SYSTEM_FAILURE": "TASK_RUN_HEARTBEAT_TIMEOUT",
    "TIMED_OUT": "MAX_DURATION_EXCEEDED",
}


def _outcome(
    state: EmulatorState, env: Environment, behaviour: TaskBehaviour, payload: str | None, payload_type: str
) -> tuple[str, Any, Any]:
    """(final internal status, output value, error) of one run of ``behaviour``."""
    final = OUTCOMES[behaviour.outcome]
    if behaviour.outcome in _INTERNAL_CODES:  # INTERNAL_ERRORs show only their code (core/v3/errors.ts)
        code = behaviour.error if behaviour.error.replace("_", "").isupper() else None
        return final, None, internal_error(code or _INTERNAL_CODES[behaviour.outcome])
    if final != "COMPLETED_SUCCESSFULLY":
        return (
            final,
            None,
            {"name": "Error", "message": behaviour.error, "stackTrace": stack_trace(behaviour)},
        )
    try:
        output = behaviour.make_output(parse_packet(*state.packets.resolve(env, payload, payload_type)))
    except Exception as exc:  # a failing output function makes the run fail, like task code would
        return (
            "COMPLETED_WITH_ERRORS",
            None,
            {"name": type(exc).__name__, "message": str(exc), "stackTrace": ""},
        )
    return final, output, None


def stack_trace(behaviour: TaskBehaviour) -> str:
    """The failure's stack: the behaviour's own, or one shaped like a deployed task's (Node.js)."""
    if behaviour.stack_trace is not None:
        return behaviour.stack_trace
    return (
        f"Error: {behaviour.error}\n"
        f"    at Object.run (file:///app/src/trigger/{behaviour.task}.ts:12:13)\n"
        "    at TaskExecutor.execute (file:///app/node_modules/@trigger.dev/core/dist/esm/v3/workers/"
        "taskExecutor.js:240:34)"
    )


def deploy_pending(state: EmulatorState, run: Run) -> None:
    """A deploy now runs ``run``'s task and queue: it leaves PENDING_VERSION and starts."""
    behaviour = state.tasks.get(run.task)
    if behaviour is None or not state.queue_deployed(run.task, run.queue):
        return
    if state.view(run).status != "PENDING_VERSION":
        return
    run.final_status, output, run.error = _outcome(state, run.env, behaviour, run.payload, run.payload_type)
    run.logs = tuple(behaviour.logs)
    _, _, run.output, run.output_type = run_packets(state, run.env, run.id, None, run.payload_type, output)
    attach(
        state, run, behaviour, parse_packet(*state.packets.resolve(run.env, run.payload, run.payload_type))
    )
    run.deployed_at = state.now()
    state.ensure_queue(run.env, run.queue)


def _check_version(state: EmulatorState, env: Environment, version: str | None) -> None:
    """``lockToVersion`` must name a deployed version of the environment (queues.server.ts)."""
    if version is None or state.config.lenient:
        return
    known = {d.version for d in state.stores.deployments if d.env.id == env.key_env.id}
    if version not in known:
        raise ApiError(422, f"Task locked to version '{version}', but no worker found with that version.")


def _cached_by_key(state: EmulatorState, env: Environment, task: str, key: str, now: float) -> Run | None:
    run_id = state.stores.idempotency.get((env.id, task, key))
    run = state.stores.runs.get(run_id) if run_id else None
    if run is None:
        return None
    expired = run.idempotency_key_expires_at is not None and run.idempotency_key_expires_at <= now
    if expired or state.view(run, now).status in KEY_CLEARING:
        run.idempotency_key = run.idempotency_key_user = None
        del state.stores.idempotency[(env.id, task, key)]
        return None
    return run


def trigger(
    state: EmulatorState,
    env: Environment,
    task: str,
    body: TriggerBody,
    headers: dict[str, str] | None = None,
    *,
    batch_id: str | None = None,
    trigger_function: str = "trigger",
    extra_tags: list[str] | None = None,
    at: float | None = None,
) -> tuple[Run, bool]:
    """Create a run (or return the cached one for its idempotency key): ``(run, is_cached)``.

    ``at``: when the run is created (a batch item processed earlier than the request that noticed).
    """
    headers = headers or {}
    opts = body.options or TriggerOptions()
    now = state.now() if at is None else at
    with state.lock:
        key = headers.get("idempotency-key") or opts.idempotencyKey
        if key:
            cached = _cached_by_key(state, env, task, key, now)
            if cached is not None:
                return cached, True
        if state.config.strict_tasks and task not in state.tasks:
            raise ApiError(404, "Task not found")
        delay = delay_until(opts.delay, now) if opts.delay else None
        if opts.delay and delay is None:
            raise ApiError(422, f"Invalid delay {opts.delay}")
        debounce = debouncing.validate(opts.debounce, now) if opts.debounce is not None else None
        _check_version(state, env, opts.lockToVersion)
        payload, payload_type = _payload_packet(body.payload, opts.payloadType)
        body_payload, body_type = payload, payload_type
        if debounce is not None:
            delay = now + debounce[1] if delay is None else delay
            trailing = (opts.debounce or {}).get("mode") == "trailing"
            pushed = debouncing.push_back(
                state, env, task, debounce, (payload, payload_type) if trailing else None, now
            )
            if pushed is not None:
                return pushed, False
        declared = state.tasks.get(task)

        behaviour = declared or TaskBehaviour(task)
        override = opts.queue.name if opts.queue and opts.queue.name else None
        queue = override or behaviour.queue or f"task/{task}"
        deployed = state.is_deployed(task) and state.queue_deployed(task, queue)
        final, output_value, error = _outcome(state, env, behaviour, payload, payload_type)
        run_id = friendly_id("run")
        payload, payload_type, output, output_type = run_packets(
            state, env, run_id, payload, payload_type, output_value
        )
        default_ttl = behaviour.ttl or ("10m" if env.type == "DEVELOPMENT" else None)
        ttl_option = opts.ttl if opts.ttl is not None else default_ttl
        ttl = ttl_seconds(ttl_option)
        tags = [opts.tags] if isinstance(opts.tags, str) else list(opts.tags or [])
        user_key = (opts.idempotencyKeyOptions or {}).get("key") if opts.idempotencyKeyOptions else None
        run = Run(
            id=run_id,
            internal_id="cm" + secrets.token_hex(12),
            env=env,
            task=task,
            payload=payload,
            payload_type=payload_type,
            created_at=now,
            duration=behaviour.duration if behaviour.duration is not None else state.config.default_duration,
            queue_time=behaviour.queue_time
            if behaviour.queue_time is not None
            else state.config.default_queue_time,
            final_status=final,
            output=output,
            output_type=output_type,
            error=error,
            logs=tuple(behaviour.logs),
            queue=queue,
            tags=tags + [t for t in (extra_tags or []) if t not in tags],
            idempotency_key=key,
            idempotency_key_user=(user_key if isinstance(user_key, str) else key) if key else None,
            idempotency_key_expires_at=now
            + key_ttl_seconds(headers.get("idempotency-key-ttl") or opts.idempotencyKeyTTL)
            if key
            else None,
            delay_until=delay if delay is not None and delay > now else None,
            ttl=ttl,
            ttl_text=(ttl_option if isinstance(ttl_option, str) else f"{ttl}s") if ttl else None,
            max_duration=opts.maxDuration,
            metadata=None if opts.metadata is None else dumps(opts.metadata),
            metadata_type=opts.metadataType or "application/json",
            machine=opts.machine,
            region=opts.region,
            version=opts.lockToVersion,
            is_test=bool(opts.test),
            batch_id=batch_id,
            trigger_function=trigger_function,
            concurrency_key=None if opts.concurrencyKey is None else str(opts.concurrencyKey),
            parent_id=opts.parentRunId,
            number=len(state.stores.runs) + 1,
            deployed_at=now if deployed else None,
        )
        if deployed:
            state.ensure_queue(env, queue)
        attach(state, run, behaviour, parse_packet(*state.packets.resolve(env, body_payload, body_type)))
        state.stores.runs[run.id] = run
        if key:
            state.stores.idempotency[(env.id, task, key)] = run.id
        if debounce is not None:
            run.debounce_key = debounce[0]
            state.stores.debounce[(env.id, task, debounce[0])] = run.id
        return run, False


def cached_request(state: EmulatorState, scoped_key: str | None) -> Any:
    """A response saved under ``x-trigger-request-idempotency-key`` within the last 24 h."""
    if not scoped_key:
        return None
    with state.lock:
        entry = state.stores.request_cache.get(scoped_key)
        if entry is None or entry[0] <= state.now():
            return None
        return entry[1]


def save_request(state: EmulatorState, scoped_key: str | None, value: Any) -> None:
    if scoped_key:
        with state.lock:
            state.stores.request_cache[scoped_key] = (state.now() + REQUEST_CACHE_TTL, value)
