"""Figure 5: bad input fails clearly and safely, across the client, the hook and the operators.

Every case must raise the documented error type with a message naming the problem (and never a
key), send exactly the write requests listed (0 when the problem can be seen before sending; the
rejected attempts when only the server can tell), and leave the server's objects unchanged.
Answers the emulator never gives (an HTML 502 from a proxy, truncated bodies, odd 4xx shapes) come
from the ``proxy`` fixture, a tiny real HTTP server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_trigger.client import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryOptions,
    TriggerClient,
    TriggerClientError,
    UnprocessableEntityError,
)
from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.hooks._connection import TriggerConnectionError
from airflow_provider_trigger.operators.batches import TriggerBatchOperator
from airflow_provider_trigger.operators.envvars import TriggerEnvVarsSyncOperator
from airflow_provider_trigger.operators.runs import (
    TriggerBulkActionOperator,
    TriggerCancelRunOperator,
    TriggerRescheduleRunOperator,
)
from airflow_provider_trigger.operators.schedules import (
    TriggerScheduleOperator,
    TriggerSchedulesSyncOperator,
)
from airflow_provider_trigger.operators.tasks import TriggerTaskOperator
from airflow_provider_trigger.sensors.runs import TriggerRunSensor
from tests.airflow_compat import AirflowException, AirflowNotFoundException
from tests.reliability.conftest import Proxy
from tests.task_runtime import start_try

FOREIGN_KEY = "sk_live_51HxQeVeryRealLookingKey"
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx/1.25.3</center></body></html>"
)


@dataclass
class World:
    emu: EmulatorServer
    proxy: Proxy
    monkeypatch: pytest.MonkeyPatch
    run_id: str = ""

    def client(self, key: str | None = None, **kwargs: Any) -> TriggerClient:
        return TriggerClient(key or self.emu.secret_key, base_url=self.emu.base_url, sleep=_no_wait, **kwargs)

    @property
    def pat_client(self) -> TriggerClient:
        return self.client(self.emu.pat)

    def via_proxy(
        self, status: int, body: Any = b"", content_type: str = "application/json", **headers: str
    ) -> TriggerClient:
        self.proxy.answer(status, body, content_type, **headers)
        return TriggerClient("tr_dev_ProxiedKey000000001", base_url=self.proxy.base_url, sleep=_no_wait)

    def hook(
        self, password: str | None = None, extra: dict[str, Any] | None = None, host: str | None = None
    ) -> TriggerHook:
        conn = {"conn_type": "trigger", "host": host or self.emu.base_url, "extra": extra or {}}
        if password is not None:
            conn["password"] = password
        self.monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_BAD", json.dumps(conn))
        return TriggerHook("trigger_bad")


def _no_wait(_: float) -> None:
    return None


def execute(operator: type[Any], **kwargs: Any) -> Any:
    """Build the operator in a DAG and run one try with a real task instance (no scheduler)."""
    with DAG("reliability_bad_input", schedule=None):
        built = operator(task_id="bad_input", **kwargs)
    task, context, _ = start_try(built)
    return task.execute(context)


@dataclass(frozen=True)
class Bad:
    what: str
    call: Callable[[World], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    writes: int = 0
    """Write requests the case sends (rejected by the server); 0 = refused before sending."""
    setup: Callable[[World], Any] | None = None


def _strict(world: World) -> World:
    world.emu.state.config.strict_tasks = True
    return world


def _new_run(world: World) -> None:
    world.run_id = world.client().tasks.trigger("reliability", {}).id


CLIENT = [
    Bad(
        "key of an unknown kind",
        lambda w: TriggerClient(FOREIGN_KEY),
        TriggerClientError,
        r"unrecognised Trigger.dev API key",
    ),
    Bad("empty key", lambda w: TriggerClient(""), TriggerClientError, r"no Trigger.dev API key"),
    Bad(
        "PAT on a secret-key route",
        lambda w: w.pat_client.tasks.trigger("t", {}),
        TriggerClientError,
        r"secret key.*personal access token cannot",
    ),
    Bad(
        "secret key on a PAT route",
        lambda w: w.client().runs.list(project_ref=w.emu.project_ref, env="dev"),
        TriggerClientError,
        r"needs a personal access token",
    ),
    Bad(
        "preview key without a branch",
        lambda w: w.client(w.emu.keys["preview"], preview_branch="").tasks.trigger("t", {}),
        TriggerClientError,
        r"preview.*branch",
    ),
    Bad(
        "missing project_ref",
        lambda w: w.pat_client.envvars.list("", "dev"),
        TriggerClientError,
        r"project_ref",
    ),
    Bad(
        "unknown environment",
        lambda w: w.pat_client.envvars.list(w.emu.project_ref, "qa"),
        TriggerClientError,
        r"unknown environment 'qa'",
    ),
    Bad(
        "empty task identifier",
        lambda w: w.client().tasks.trigger("", {}),
        TriggerClientError,
        r"task_identifier",
    ),
    Bad(
        "payload that is not JSON",
        lambda w: w.client().tasks.trigger("t", {"at": object()}),
        TriggerClientError,
        r"not JSON-serialisable",
    ),
    Bad(
        "NaN in the payload",
        lambda w: w.client().tasks.trigger("t", [float("nan")]),
        TriggerClientError,
        r"not JSON-serialisable",
    ),
    Bad(
        "unknown trigger option",
        lambda w: w.client().tasks.trigger("t", {}, bogus=1),
        TriggerClientError,
        r"bogus",
    ),
    Bad(
        "empty idempotency key",
        lambda w: w.client().tasks.trigger("t", {}, idempotency_key=""),
        TriggerClientError,
        r"idempotency_key",
    ),
    Bad(
        "empty batch",
        lambda w: w.client().tasks.batch_trigger("t", []),
        TriggerClientError,
        r"at least one item",
    ),
    Bad(
        "batch over 1,000 items",
        lambda w: w.client().tasks.batch_trigger("t", [{"payload": i} for i in range(1001)]),
        TriggerClientError,
        r"at most 1000",
    ),
    Bad(
        "batch item that is not a dict",
        lambda w: w.client().tasks.batch_trigger("t", ["x"]),
        TriggerClientError,
        r"batch item 0",
    ),
    Bad("negative timeout", lambda w: w.client(timeout=-1), ValueError, r"timeout must be .* > 0"),
    Bad("zero attempts", lambda w: RetryOptions(max_attempts=0), ValueError, r"max_attempts"),
    Bad(
        "empty run id",
        lambda w: w.client().runs.retrieve(""),
        TriggerClientError,
        r"run_id must be a non-empty",
    ),
    Bad(
        "metadata that is not a dict",
        lambda w: w.client().runs.update_metadata("run_1", ["a"]),
        TriggerClientError,
        r"metadata must be a dict",
    ),
    Bad(
        "oversized payload (4 MB)",
        lambda w: w.client().tasks.trigger("t", {"blob": "x" * 4_000_000}),
        ApiError,
        r"413 .*too large",
        writes=1,
    ),
    Bad(
        "unknown task",
        lambda w: _strict(w).client().tasks.trigger("no-such-task", {}),
        NotFoundError,
        r"404 Task not found",
        writes=1,
    ),
    Bad(
        "key rejected by the server",
        lambda w: w.client("tr_dev_NotAKeyTheServerKnows01").tasks.trigger("t", {}),
        AuthenticationError,
        r"401 Invalid API key",
        writes=1,
    ),
    Bad(
        "invalid machine preset",
        lambda w: w.client().tasks.trigger("t", {}, machine="huge-9x"),
        BadRequestError,
        r"options.machine",
        writes=1,
    ),
    Bad(
        "bad cron",
        lambda w: w.client().schedules.create(task="t", cron="every minute", deduplication_key="k"),
        UnprocessableEntityError,
        r"Invalid cron",
        writes=1,
    ),
    Bad(
        "unknown timezone",
        lambda w: w.client().schedules.create(
            task="t", cron="* * * * *", deduplication_key="k", timezone="Mars/Olympus"
        ),
        UnprocessableEntityError,
        r"timezone.*Mars/Olympus",
        writes=1,
    ),
    Bad(
        "reschedule a run that is not delayed",
        lambda w: w.client().runs.reschedule(w.run_id, delay="1h"),
        UnprocessableEntityError,
        r"not delayed",
        writes=1,
        setup=_new_run,
    ),
    Bad(
        "unknown run",
        lambda w: w.client().runs.cancel("run_doesnotexist00"),
        NotFoundError,
        r"Run not found",
        writes=1,
    ),
]

PROXY = [
    Bad(
        "HTML 502 from a proxy",
        lambda w: w.via_proxy(502, HTML_502, "text/html").tasks.trigger("t", {}),
        InternalServerError,
        r"502 .*Bad Gateway",
        writes=5,  # retried (≥ 500), then reported; the proxy never reached the API
    ),
    Bad(
        "400 with an error string",
        lambda w: w.via_proxy(400, {"error": "payload is too deep"}).tasks.trigger("t", {}),
        BadRequestError,
        r"400 payload is too deep",
        writes=1,
    ),
    Bad(
        "422 with a nested error object",
        lambda w: w.via_proxy(422, {"error": {"message": "tags: at most 10"}}).tasks.trigger("t", {}),
        UnprocessableEntityError,
        r"422 tags: at most 10",
        writes=1,
    ),
    Bad(
        "403 with only a message",
        lambda w: w.via_proxy(403, {"message": "key lacks scope write:runs"}).tasks.trigger("t", {}),
        PermissionDeniedError,
        r"403 key lacks scope",
        writes=1,
    ),
    Bad(
        "409 problem+json (retried, then reported)",
        lambda w: w.via_proxy(409, {"title": "Conflict", "detail": "already exists"}).tasks.trigger("t", {}),
        ConflictError,
        r"409 already exists",
        writes=5,
    ),
    Bad(
        "400 with a bare JSON list",
        lambda w: w.via_proxy(400, [{"path": ["payload"], "message": "Required"}]).tasks.trigger("t", {}),
        BadRequestError,
        r"400 .*Required",
        writes=1,
    ),
    Bad(
        "400 with a JSON string",
        lambda w: w.via_proxy(400, "bad payload").tasks.trigger("t", {}),
        BadRequestError,
        r"400 bad payload",
        writes=1,
    ),
    Bad(
        "400 with no body",
        lambda w: w.via_proxy(400).tasks.trigger("t", {}),
        BadRequestError,
        r"400 status code \(no body\)",
        writes=1,
    ),
    Bad(
        "400 with an empty JSON object",
        lambda w: w.via_proxy(400, {}).tasks.trigger("t", {}),
        BadRequestError,
        r"400 \{\}",
        writes=1,
    ),
    Bad(
        "404 as plain text",
        lambda w: w.via_proxy(404, b"Not Found", "text/plain").runs.cancel("run_1"),
        NotFoundError,
        r"404 Not Found",
        writes=1,
    ),
    Bad(
        "429 without a reset header (backs off, then reports)",
        lambda w: w.via_proxy(429, {"error": "slow down"}).tasks.trigger("t", {}),
        RateLimitError,
        r"429 slow down",
        writes=5,
    ),
    Bad(
        "500 with x-should-retry: false",
        lambda w: w.via_proxy(500, {"error": "boom"}, **{"x-should-retry": "false"}).tasks.trigger("t", {}),
        InternalServerError,
        r"500 boom",
        writes=1,
    ),
    Bad(
        "truncated JSON on success",
        lambda w: w.via_proxy(200, b'{"id": "run_1", "isCa').tasks.trigger("t", {}),
        ApiError,
        r"200 response to POST .* not JSON \(truncated",
        writes=1,
    ),
    Bad(
        "HTML page on success",
        lambda w: w.via_proxy(200, b"<html>Sign in</html>", "text/html").runs.retrieve("run_1"),
        ApiError,
        r"could not be read: a body that is not JSON",
    ),
    Bad(
        "empty body on success",
        lambda w: w.via_proxy(200).runs.retrieve("run_1"),
        ApiError,
        r"could not be read: an empty body",
    ),
    Bad(
        "JSON of the wrong shape on success",
        lambda w: w.via_proxy(200, {"runs": []}).runs.retrieve("run_1"),
        ApiError,
        r"unexpected shape \(id: Field required\)",
    ),
    Bad(
        "nothing listening",
        lambda w: TriggerClient("tr_dev_x", base_url="http://127.0.0.1:9", sleep=_no_wait).runs.retrieve(
            "run_1"
        ),
        ApiConnectionError,
        r"could not reach .*127.0.0.1:9",
    ),
]

HOOK = [
    Bad(
        "connection without a key",
        lambda w: w.hook().client,
        TriggerConnectionError,
        r"trigger_bad.*password field is empty",
    ),
    Bad(
        "connection with a foreign key",
        lambda w: w.hook(FOREIGN_KEY).client,
        TriggerConnectionError,
        r"trigger_bad.*does not hold a Trigger.dev key",
    ),
    Bad(
        "unknown environment in the extra",
        lambda w: w.hook(w.emu.pat, {"environment": "qa"}).client,
        TriggerConnectionError,
        r"\"environment\" is invalid",
    ),
    Bad(
        "malformed project_ref",
        lambda w: w.hook(w.emu.pat, {"project_ref": "my project"}).client,
        TriggerConnectionError,
        r"\"project_ref\" is invalid",
    ),
    Bad(
        "negative timeout in the extra",
        lambda w: w.hook(w.emu.secret_key, {"timeout": -3}).client,
        TriggerConnectionError,
        r"\"timeout\" is invalid: .*greater than 0",
    ),
    Bad(
        "zero retry attempts in the extra",
        lambda w: w.hook(w.emu.secret_key, {"retry_max_attempts": 0}).client,
        TriggerConnectionError,
        r"\"retry_max_attempts\" is invalid",
    ),
    Bad(
        "misspelt extra field",
        lambda w: w.hook(w.emu.secret_key, {"projectRef": "proj_x"}).client,
        TriggerConnectionError,
        r"unknown extra field 'projectRef'",
    ),
    Bad(
        "preview key without a branch",
        lambda w: w.hook(w.emu.keys["preview"]).client,
        TriggerConnectionError,
        r"needs a branch: set \"preview_branch\"",
    ),
    Bad(
        "PAT without project_ref",
        lambda w: w.hook(w.emu.pat).project_ref,
        TriggerConnectionError,
        r"project_ref",
    ),
    Bad(
        "missing connection",
        lambda w: TriggerHook("no_such_connection").client,
        AirflowNotFoundException,
        r"no_such_connection",
    ),
]

OPERATORS = [
    Bad(
        "empty task identifier",
        lambda w: execute(TriggerTaskOperator, task_identifier=""),
        ValueError,
        r"task_identifier must be a non-empty string",
    ),
    Bad(
        "payload that is not JSON",
        lambda w: execute(TriggerTaskOperator, task_identifier="t", payload={"at": {1, 2}}),
        ValueError,
        r"payload must be JSON-serialisable",
    ),
    Bad(
        "negative timeout",
        lambda w: execute(TriggerTaskOperator, task_identifier="t", timeout=-1),
        ValueError,
        r"timeout must be >= 0",
    ),
    Bad(
        "zero poll interval",
        lambda w: execute(TriggerTaskOperator, task_identifier="t", poll_interval=0),
        ValueError,
        r"poll_interval",
    ),
    Bad(
        "idempotency key rendering empty",
        lambda w: execute(TriggerTaskOperator, task_identifier="t", idempotency_key="{{ '' }}"),
        ValueError,
        r"idempotency_key rendered to an empty string",
    ),
    Bad(
        "unknown task",
        lambda w: execute(_strict(w) and TriggerTaskOperator, task_identifier="no-such-task"),
        AirflowException,
        r"'no-such-task' was not found in the dev environment",
        writes=1,
    ),
    Bad(
        "empty batch",
        lambda w: execute(TriggerBatchOperator, task_identifier="t", payloads=[]),
        ValueError,
        r"1 to 1000 payloads",
    ),
    Bad(
        "batch payloads as a dict",
        lambda w: execute(TriggerBatchOperator, task_identifier="t", payloads={"a": 1}),
        ValueError,
        r"list of payloads",
    ),
    Bad(
        "bad env var name",
        lambda w: execute(TriggerEnvVarsSyncOperator, variables={"1-BAD NAME": "v"}),
        ValueError,
        r"'1-BAD NAME': invalid name",
    ),
    Bad(
        "empty env var value",
        lambda w: execute(TriggerEnvVarsSyncOperator, variables={"API_URL": "  "}),
        ValueError,
        r"'API_URL': empty value",
    ),
    Bad(
        "unknown environment",
        lambda w: execute(TriggerEnvVarsSyncOperator, variables={"A": "1"}, environment="qa"),
        ValueError,
        r"Unknown Trigger.dev environment 'qa'",
    ),
    Bad(
        "dev key writing prod",
        lambda w: execute(TriggerEnvVarsSyncOperator, variables={"A": "1"}, environment="prod"),
        ValueError,
        r"cannot write 'prod'",
    ),
    Bad(
        "missing .env file",
        lambda w: execute(TriggerEnvVarsSyncOperator, env_file="/nonexistent/.env"),
        ValueError,
        r"does not exist",
    ),
    Bad("nothing to sync", lambda w: execute(TriggerEnvVarsSyncOperator), ValueError, r"Nothing to sync"),
    Bad(
        "bad cron",
        lambda w: execute(TriggerScheduleOperator, task="t", cron="61 * * * *", deduplication_key="k"),
        ValueError,
        r"Invalid cron expression",
    ),
    Bad(
        "missing deduplication key",
        lambda w: execute(TriggerScheduleOperator, task="t", cron="* * * * *", deduplication_key=""),
        ValueError,
        r"deduplication_key is required",
    ),
    Bad(
        "unknown timezone",
        lambda w: execute(
            TriggerScheduleOperator,
            task="t",
            cron="* * * * *",
            deduplication_key="k",
            timezone="Mars/Olympus",
        ),
        ValueError,
        r"Mars/Olympus",
    ),
    Bad(
        "bad schedule window",
        lambda w: execute(
            TriggerScheduleOperator, task="t", cron="* * * * *", deduplication_key="k", window="25h"
        ),
        ValueError,
        r"window",
    ),
    Bad(
        "duplicate schedule keys",
        lambda w: execute(
            TriggerSchedulesSyncOperator,
            key_prefix="reliability-",
            schedules=[{"task": "t", "cron": "* * * * *", "deduplication_key": "reliability-a"}] * 2,
        ),
        ValueError,
        r"Duplicate deduplication_key",
    ),
    Bad(
        "empty run id",
        lambda w: execute(TriggerCancelRunOperator, run_id=""),
        ValueError,
        r"run_id is required",
    ),
    Bad(
        "reschedule without a delay",
        lambda w: execute(TriggerRescheduleRunOperator, run_id="run_1", delay=""),
        ValueError,
        r"delay is required",
    ),
    Bad(
        "unknown bulk action",
        lambda w: execute(TriggerBulkActionOperator, action="delete", run_ids=["run_1"]),
        ValueError,
        r"'cancel' or 'replay'",
    ),
    Bad(
        "bulk action with both filter and run ids",
        lambda w: execute(
            TriggerBulkActionOperator, action="cancel", run_ids=["run_1"], filter={"status": "QUEUED"}
        ),
        ValueError,
        r"exactly one of filter= or run_ids=",
    ),
    Bad(
        "sensor on something that is not a run id",
        lambda w: execute(TriggerRunSensor, run_id="batch_123"),
        ValueError,
        r"starting with 'run_'",
    ),
    Bad(
        "sensor given one status string",
        lambda w: execute(TriggerRunSensor, run_id="run_1", target_statuses="COMPLETED"),
        ValueError,
        r"not one string",
    ),
    Bad(
        "cancel an unknown run",
        lambda w: execute(TriggerCancelRunOperator, run_id="run_doesnotexist00"),
        (NotFoundError, AirflowException),
        r"run_doesnotexist00|Run not found",
        writes=1,
    ),
]

CASES = [
    *(pytest.param(case, id=f"client: {case.what}") for case in CLIENT),
    *(pytest.param(case, id=f"client, server answers: {case.what}") for case in PROXY),
    *(pytest.param(case, id=f"hook: {case.what}") for case in HOOK),
    *(pytest.param(case, id=f"operator: {case.what}") for case in OPERATORS),
]


def _objects(emu: EmulatorServer) -> dict[str, Any]:
    """The server's objects a bad call must not change (runs, env vars, schedules, batches)."""
    with emu.state.lock:
        stores = emu.state.stores
        return {
            "runs": sorted(stores.runs),
            "envvars": {env: sorted(v.items()) for env, v in stores.envvars.items() if v},
            "schedules": sorted(stores.schedules),
            "batches": sorted(stores.batches),
        }


def _writes(emu: EmulatorServer) -> int:
    return sum(1 for r in emu.requests.all() if r.method != "GET")


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert {"client", "hook", "operator"} <= {p.id.split(":")[0].split(",")[0] for p in CASES}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly_and_safely(
    case: Bad, emulator: EmulatorServer, proxy: Proxy, trigger_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(emulator, proxy, monkeypatch)
    if case.setup is not None:
        case.setup(world)
    before, writes_before = _objects(emulator), _writes(emulator)

    with pytest.raises(case.error) as info:
        case.call(world)

    message = str(info.value)
    assert re.search(case.match, message, re.IGNORECASE | re.DOTALL), message
    secrets = [*emulator.keys.values(), emulator.pat, FOREIGN_KEY, "tr_dev_NotAKeyTheServerKnows01"]
    assert not [s for s in secrets if s in message or s in repr(info.value)]
    assert _writes(emulator) - writes_before + proxy.writes == case.writes
    assert _objects(emulator) == before
