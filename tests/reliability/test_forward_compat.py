"""Figure 6: a newer (or older) server's bodies never crash parsing, for every response model.

Each model gets a body shaped as the official SDK's zod schema accepts it (``@trigger.dev/core``
``v3/schemas``: required fields present, ``.optional()`` fields sometimes missing, ``.nullish()`` /
``.nullable()`` fields sometimes null), then hypothesis adds what a newer server might send: unknown
fields of any JSON type, unknown status values, and missing or null fields the SDK would reject.
Parsing must succeed, keep the known values and keep the unknown fields. The realtime feed's rows
(Electric's text columns, the SDK's ``SubscribeRunRawShape``) get the same treatment.

Known, deliberate gaps (not generated): a snake_case key colliding with a field name (the models
also accept field names) and fractional numbers in count fields the SDK types as ``z.number()``.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from airflow_provider_trigger.client import (
    TERMINAL_STATUSES,
    Batch,
    BatchItemsResult,
    BatchResults,
    BulkAction,
    CreatedBatch,
    CreatedWaitpointToken,
    Deployment,
    EnvVar,
    IdResponse,
    MetadataResponse,
    Prompt,
    QueryResult,
    Queue,
    Run,
    RunResult,
    RunStatus,
    Schedule,
    Session,
    Success,
    TaskErrorGroup,
    TriggerModel,
    TriggerResult,
    WaitpointToken,
)

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z")) | st.integers(
    10**12, 4 * 10**12
)  # zod's z.coerce.date() also takes epoch milliseconds
text = st.text(max_size=20)
ids = st.from_regex(r"[a-z]{2,8}_[a-z0-9]{4,24}", fullmatch=True)
numbers = st.integers(0, 10**9)
statuses = st.sampled_from([s.value for s in RunStatus]) | st.from_regex(r"[A-Z_]{3,20}", fullmatch=True)

# Field kinds: (strategy, how the SDK treats a missing value / a null)
REQUIRED, OPTIONAL, NULLISH = "required", "optional", "nullish"

RUN_COMMON: dict[str, tuple[Any, str]] = {
    "id": (ids, REQUIRED),
    "status": (statuses, REQUIRED),
    "taskIdentifier": (text, REQUIRED),
    "idempotencyKey": (text, OPTIONAL),
    "version": (text, OPTIONAL),
    **{flag: (st.booleans(), REQUIRED) for flag in ("isQueued", "isExecuting", "isWaiting", "isCompleted")},
    **{flag: (st.booleans(), REQUIRED) for flag in ("isSuccess", "isFailed", "isCancelled", "isTest")},
    "createdAt": (dates, REQUIRED),
    "updatedAt": (dates, REQUIRED),
    **{d: (dates, OPTIONAL) for d in ("startedAt", "finishedAt", "delayedUntil", "expiredAt")},
    "ttl": (text, OPTIONAL),
    "tags": (st.lists(text, max_size=3), REQUIRED),
    "costInCents": (numbers, REQUIRED),
    "baseCostInCents": (numbers, REQUIRED),
    "durationMs": (numbers, REQUIRED),
    "metadata": (st.dictionaries(text, json_values, max_size=3), OPTIONAL),
    "taskKind": (text, OPTIONAL),
    "region": (text, OPTIONAL),
}
SERIALIZED_ERROR = {"message": (text, REQUIRED), "name": (text, OPTIONAL), "stackTrace": (text, OPTIONAL)}
GENERATOR = {
    "type": (st.just("CRON"), REQUIRED),
    "expression": (text, REQUIRED),
    "description": (text, REQUIRED),
}


def shaped(fields: dict[str, tuple[Any, str]]) -> st.SearchStrategy[dict[str, Any]]:
    """A body as the SDK's schema accepts it: optional fields may be missing, nullish ones null."""
    required = {k: s for k, (s, kind) in fields.items() if kind == REQUIRED}
    optional = {k: s for k, (s, kind) in fields.items() if kind == OPTIONAL}
    optional |= {k: s | st.none() for k, (s, kind) in fields.items() if kind == NULLISH}
    return st.fixed_dictionaries(required, optional=optional)


def obj(fields: dict[str, tuple[Any, str]]) -> st.SearchStrategy[dict[str, Any]]:
    """A nested object; zod strips unknown keys, so the SDK accepts new ones at any depth too."""
    future = st.dictionaries(
        st.from_regex(r"future[A-Z][a-zA-Z]{0,8}", fullmatch=True), json_values, max_size=2
    )
    return st.tuples(shaped(fields), future).map(lambda parts: {**parts[1], **parts[0]})


RETRIEVED_RUN = {
    **RUN_COMMON,
    "depth": (numbers, REQUIRED),
    "triggerFunction": (st.sampled_from(["trigger", "triggerAndWait", "batchTrigger"]), REQUIRED),
    "batchId": (ids, OPTIONAL),
    "payload": (json_values, OPTIONAL),
    "payloadPresignedUrl": (text, OPTIONAL),
    "output": (json_values, OPTIONAL),
    "outputPresignedUrl": (text, OPTIONAL),
    "error": (obj(SERIALIZED_ERROR), OPTIONAL),
    "schedule": (obj({"id": (ids, REQUIRED), "generator": (obj(GENERATOR), REQUIRED)}), OPTIONAL),
    "relatedRuns": (
        st.fixed_dictionaries({}, optional={"children": st.lists(obj(RUN_COMMON), max_size=1)}),
        REQUIRED,
    ),
    "attemptCount": (numbers, OPTIONAL),
}
LISTED_RUN = {**RUN_COMMON, "env": (obj({"id": (ids, REQUIRED), "name": (text, REQUIRED)}), REQUIRED)}

MODELS: dict[str, tuple[type[TriggerModel], dict[str, tuple[Any, str]]]] = {
    "retrieved run": (Run, RETRIEVED_RUN),
    "listed run": (Run, LISTED_RUN),
    "trigger result": (TriggerResult, {"id": (ids, REQUIRED), "isCached": (st.booleans(), OPTIONAL)}),
    "created batch": (
        CreatedBatch,
        {
            "id": (ids, REQUIRED),
            "runCount": (numbers, REQUIRED),
            "isCached": (st.booleans(), REQUIRED),
            "idempotencyKey": (text, OPTIONAL),
        },
    ),
    "batch items result": (
        BatchItemsResult,
        {
            "id": (ids, REQUIRED),
            "itemsAccepted": (numbers, REQUIRED),
            "itemsDeduplicated": (numbers, REQUIRED),
            "sealed": (st.booleans(), REQUIRED),
            "enqueuedCount": (numbers, OPTIONAL),
            "expectedCount": (numbers, OPTIONAL),
        },
    ),
    "batch": (
        Batch,
        {
            "id": (ids, REQUIRED),
            "status": (statuses, REQUIRED),
            "idempotencyKey": (text, OPTIONAL),
            "createdAt": (dates, REQUIRED),
            "updatedAt": (dates, REQUIRED),
            "runCount": (numbers, REQUIRED),
            "runs": (st.lists(ids, max_size=3), REQUIRED),
            "processing": (
                obj(
                    {
                        "completedAt": (dates, OPTIONAL),
                        "errors": (st.lists(json_values, max_size=2), REQUIRED),
                    }
                ),
                REQUIRED,
            ),
        },
    ),
    "batch results": (
        BatchResults,
        {"id": (ids, REQUIRED), "items": (st.lists(json_values, max_size=3), REQUIRED)},
    ),
    "run result": (
        RunResult,
        {
            "ok": (st.booleans(), REQUIRED),
            "id": (ids, REQUIRED),
            "output": (text, OPTIONAL),
            "outputType": (text, REQUIRED),
            "error": (json_values, OPTIONAL),
            "usage": (obj({"durationMs": (numbers, REQUIRED)}), OPTIONAL),
            "taskIdentifier": (text, OPTIONAL),
        },
    ),
    "id response": (IdResponse, {"id": (ids, REQUIRED)}),
    "metadata": (MetadataResponse, {"metadata": (text, NULLISH), "metadataType": (text, REQUIRED)}),
    "bulk action": (
        BulkAction,
        {
            "id": (ids, REQUIRED),
            "name": (text, OPTIONAL),
            "type": (statuses, REQUIRED),
            "status": (statuses, REQUIRED),
            "counts": (obj({k: (numbers, REQUIRED) for k in ("total", "success", "failure")}), REQUIRED),
            "createdAt": (dates, REQUIRED),
            "completedAt": (dates, OPTIONAL),
        },
    ),
    "env var": (
        EnvVar,
        {"name": (text, REQUIRED), "value": (text, REQUIRED), "isSecret": (st.booleans(), OPTIONAL)},
    ),
    "success": (Success, {"success": (st.booleans(), REQUIRED)}),
    "schedule": (
        Schedule,
        {
            "id": (ids, REQUIRED),
            "type": (statuses, REQUIRED),
            "task": (text, REQUIRED),
            "active": (st.booleans(), REQUIRED),
            "deduplicationKey": (text, NULLISH),
            "externalId": (text, NULLISH),
            "generator": (obj(GENERATOR), REQUIRED),
            "timezone": (text, REQUIRED),
            "window": (text, OPTIONAL),
            "nextRun": (dates, NULLISH),
            "nextRunEffectiveAt": (dates, NULLISH),
            "environments": (
                st.lists(
                    obj({"id": (ids, REQUIRED), "type": (text, REQUIRED), "userName": (text, NULLISH)}),
                    max_size=2,
                ),
                REQUIRED,
            ),
        },
    ),
    "queue": (
        Queue,
        {
            "id": (ids, REQUIRED),
            "name": (text, REQUIRED),
            "type": (st.sampled_from(["task", "custom"]) | text, REQUIRED),
            "running": (numbers, REQUIRED),
            "queued": (numbers, REQUIRED),
            "paused": (st.booleans(), REQUIRED),
            "concurrencyLimit": (numbers | st.none(), REQUIRED),
            "concurrency": (
                obj(
                    {
                        "current": (numbers | st.none(), REQUIRED),
                        "base": (numbers | st.none(), REQUIRED),
                        "override": (numbers | st.none(), REQUIRED),
                        "overriddenAt": (dates | st.none(), REQUIRED),
                        "overriddenBy": (text | st.none(), REQUIRED),
                    }
                ),
                OPTIONAL,
            ),
        },
    ),
    "created waitpoint token": (
        CreatedWaitpointToken,
        {"id": (ids, REQUIRED), "isCached": (st.booleans(), REQUIRED), "url": (text, REQUIRED)},
    ),
    "waitpoint token": (
        WaitpointToken,
        {
            "id": (ids, REQUIRED),
            "url": (text, REQUIRED),
            "status": (statuses, REQUIRED),
            **{d: (dates, OPTIONAL) for d in ("completedAt", "timeoutAt", "idempotencyKeyExpiresAt")},
            "idempotencyKey": (text, OPTIONAL),
            "tags": (st.lists(text, max_size=3), REQUIRED),
            "createdAt": (dates, REQUIRED),
            "output": (text, OPTIONAL),
            "outputType": (text, OPTIONAL),
            "outputIsError": (st.booleans(), OPTIONAL),
        },
    ),
    "deployment": (
        Deployment,
        {
            "id": (ids, REQUIRED),
            "createdAt": (dates, REQUIRED),
            "shortCode": (text, REQUIRED),
            "version": (text, REQUIRED),
            "runtime": (text | st.none(), REQUIRED),
            "runtimeVersion": (text | st.none(), REQUIRED),
            "status": (statuses, REQUIRED),
            "deployedAt": (dates, OPTIONAL),
            "git": (st.dictionaries(text, json_values, max_size=3), OPTIONAL),
            "error": (obj({"name": (text, REQUIRED), "message": (text, REQUIRED)}), OPTIONAL),
        },
    ),
    "error group": (
        TaskErrorGroup,
        {
            "id": (ids, REQUIRED),
            **{k: (text, REQUIRED) for k in ("fingerprint", "taskIdentifier", "errorType", "errorMessage")},
            "status": (statuses, REQUIRED),
            "count": (numbers, REQUIRED),
            "firstSeen": (dates, REQUIRED),
            "lastSeen": (dates, REQUIRED),
            "resolvedAt": (dates, NULLISH),
            "ignoredUntil": (dates, NULLISH),
        },
    ),
    "query result": (
        QueryResult,
        {"format": (st.sampled_from(["json", "csv"]), REQUIRED), "results": (json_values, REQUIRED)},
    ),
    "session": (
        Session,
        {
            "id": (ids, REQUIRED),
            "externalId": (text, NULLISH),
            "type": (text, REQUIRED),
            "taskIdentifier": (text, REQUIRED),
            "triggerConfig": (st.dictionaries(text, json_values, max_size=2), OPTIONAL),
            "currentRunId": (ids, NULLISH),
            "tags": (st.lists(text, max_size=3), REQUIRED),
            "metadata": (json_values, NULLISH),
            **{d: (dates, NULLISH) for d in ("closedAt", "expiresAt")},
            "closedReason": (text, NULLISH),
            "createdAt": (dates, REQUIRED),
            "updatedAt": (dates, REQUIRED),
        },
    ),
    "prompt": (
        Prompt,
        {
            "slug": (text, REQUIRED),
            "friendlyId": (text, REQUIRED),
            "description": (text, NULLISH),
            "tags": (st.lists(text, max_size=3), REQUIRED),
            "defaultModel": (text, NULLISH),
            "currentVersion": (json_values, NULLISH),
            "hasOverride": (st.booleans(), REQUIRED),
            "updatedAt": (dates, REQUIRED),
        },
    ),
}


def _known_names(model: type[TriggerModel]) -> set[str]:
    return {n for name in model.model_fields for n in (name, to_camel(name))}


@st.composite
def newer_server_body(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """An SDK-valid body, then unknown fields added and some optional fields dropped or nulled."""
    model, fields = MODELS[name]
    body = draw(shaped(fields))
    known = _known_names(model) | set(fields)
    extras = draw(
        st.dictionaries(
            st.from_regex(r"[a-z][a-zA-Z0-9]{0,14}", fullmatch=True).filter(lambda k: k not in known),
            json_values,
            max_size=4,
        )
    )
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=3, unique=True)) if body else []:
        if fields[key][1] != REQUIRED or key not in ("id", "name", "slug", "ok", "runCount", "sealed"):
            if draw(st.booleans()):
                body[key] = None  # a newer server nulling a field (where the model allows it, below)
            else:
                del body[key]
    return {**body, **extras}


@functools.cache
def _model_accepts_none(model: type[TriggerModel], camel: str) -> bool:
    """Whether the model's field for this wire name can hold null (unknown fields always can)."""
    field = next((f for n, f in model.model_fields.items() if to_camel(n) == camel), None)
    if field is None:
        return True
    try:
        TypeAdapter(field.annotation).validate_python(None)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(MODELS))
@SETTINGS
@given(data=st.data())
def test_sdk_shaped_bodies_always_parse(name: str, data: st.DataObject) -> None:
    model, fields = MODELS[name]
    body = data.draw(shaped(fields))

    parsed = model.model_validate(json.loads(json.dumps(body)))

    for key in ("id", "slug", "name"):
        if key in body and key in model.model_fields and isinstance(body[key], str):
            assert getattr(parsed, key) == body[key]


@pytest.mark.parametrize("name", sorted(MODELS))
@SETTINGS
@given(data=st.data())
def test_newer_server_bodies_parse_and_keep_unknown_fields(name: str, data: st.DataObject) -> None:
    model, _ = MODELS[name]
    body = data.draw(newer_server_body(name))
    # a null is only "forward compatible" where the model can hold it; elsewhere drop the field
    body = {k: v for k, v in body.items() if v is not None or _model_accepts_none(model, k)}

    parsed = model.model_validate(json.loads(json.dumps(body)))

    unknown = {k: v for k, v in body.items() if k not in _known_names(model)}
    assert {k: (parsed.model_extra or {}).get(k) for k in unknown} == unknown
    if "id" in body and "id" in model.model_fields:
        assert parsed.id == body["id"]  # type: ignore[attr-defined]


@SETTINGS
@given(status=st.from_regex(r"[A-Z][A-Z_]{2,20}", fullmatch=True), body=shaped(RETRIEVED_RUN))
def test_unknown_run_status_is_kept_and_never_terminal(status: str, body: dict[str, Any]) -> None:
    run = Run.model_validate({**body, "status": status, "isCompleted": True})

    assert run.status == status
    if status not in {s.value for s in RunStatus}:
        assert not run.is_known_status
        assert not run.is_terminal and not run.is_success and not run.is_failed
    else:
        assert run.is_terminal == (RunStatus(status) in TERMINAL_STATUSES)


def test_minimal_bodies_parse_with_defaults() -> None:
    """The least a server could send: only the identifying field."""
    run = Run.model_validate({"id": "run_1"})
    assert run.status == "" and run.tags == [] and not run.is_terminal
    assert Batch.model_validate({"id": "batch_1"}).runs == []
    assert Schedule.model_validate({"id": "sched_1"}).environments == []
    assert Queue.model_validate({"id": "queue_1"}).running == 0


electric_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.isoformat(sep=" ", timespec="milliseconds")
)
pg_arrays = st.lists(st.from_regex(r"[a-z0-9:_-]{1,10}", fullmatch=True), max_size=3).map(
    lambda tags: "{" + ",".join(tags) + "}"
)
json_texts = json_values.map(json.dumps)
REALTIME_ROW = {  # the SDK's SubscribeRunRawShape: every value is Electric's text form, or null
    "id": (st.from_regex(r"c[a-z0-9]{10,24}", fullmatch=True), REQUIRED),
    "friendlyId": (ids, REQUIRED),
    "taskIdentifier": (text, REQUIRED),
    "status": (
        st.sampled_from(["PENDING", "EXECUTING", "COMPLETED_SUCCESSFULLY", "CRASHED"]) | statuses,
        REQUIRED,
    ),
    "createdAt": (electric_times, REQUIRED),
    "updatedAt": (electric_times, REQUIRED),
    **{
        d: (electric_times, NULLISH)
        for d in ("startedAt", "delayUntil", "queuedAt", "expiredAt", "completedAt")
    },
    "idempotencyKey": (text, NULLISH),
    "number": (numbers.map(str), OPTIONAL),
    "isTest": (st.sampled_from(["t", "f"]), OPTIONAL),
    "usageDurationMs": (numbers.map(str), OPTIONAL),
    "costInCents": (numbers.map(str), OPTIONAL),
    "baseCostInCents": (numbers.map(str), OPTIONAL),
    "ttl": (text, NULLISH),
    "payload": (json_texts, NULLISH),
    "payloadType": (st.just("application/json"), NULLISH),
    "metadata": (json_texts, NULLISH),
    "metadataType": (st.just("application/json"), NULLISH),
    "output": (json_texts, NULLISH),
    "outputType": (st.just("application/json"), NULLISH),
    "runTags": (pg_arrays, NULLISH),
    "error": (json_texts, NULLISH),
    "realtimeStreams": (pg_arrays, NULLISH),
}


@settings(SETTINGS, max_examples=50)
@given(
    row=shaped(REALTIME_ROW),
    extras=st.dictionaries(
        st.from_regex(r"[a-z][a-zA-Z]{2,12}", fullmatch=True).filter(lambda k: k not in REALTIME_ROW),
        st.none() | text,
        max_size=3,
    ),
)
def test_realtime_rows_from_a_newer_server_always_become_runs(
    row: dict[str, Any], extras: dict[str, Any]
) -> None:
    """The realtime feed's rows (new columns, unknown internal statuses, nulls) never break the wait."""
    from airflow_provider_trigger.client.realtime._rows import (
        STATUS_MAP,
        column_types,
        decode_row,
        row_to_run,
    )

    run = row_to_run(decode_row({**row, **extras}, column_types(None)))

    assert run.id == row["friendlyId"]
    if row["status"] not in STATUS_MAP:  # an internal status this client does not know: keep waiting
        assert run.status == "QUEUED" and not run.is_terminal
