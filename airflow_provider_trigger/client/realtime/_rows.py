"""Realtime rows (``TaskRun`` columns, every value a string or null) → the public ``Run``.

Mirrors the SDK's ``RunSubscription.transformRunShape``: column types come from ``electric-schema``
(with the known column list as a fallback), internal statuses map to the public vocabulary, and
payload/output/metadata packets are decoded from their data type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from airflow_provider_trigger.client.models import TERMINAL_STATUSES, Run

Row = dict[str, Any]
"""One decoded row: column name → Python value."""

STATUS_MAP: Mapping[str, str] = {
    "DELAYED": "DELAYED",
    "WAITING_FOR_DEPLOY": "PENDING_VERSION",
    "PENDING_VERSION": "PENDING_VERSION",
    "PENDING": "QUEUED",
    "PAUSED": "WAITING",
    "WAITING_TO_RESUME": "WAITING",
    "DEQUEUED": "DEQUEUED",
    "EXECUTING": "EXECUTING",
    "RETRYING_AFTER_FAILURE": "EXECUTING",
    "CANCELED": "CANCELED",
    "COMPLETED_SUCCESSFULLY": "COMPLETED",
    "COMPLETED_WITH_ERRORS": "FAILED",
    "INTERRUPTED": "FAILED",
    "SYSTEM_FAILURE": "SYSTEM_FAILURE",
    "CRASHED": "CRASHED",
    "EXPIRED": "EXPIRED",
    "TIMED_OUT": "TIMED_OUT",
}
"""Internal ``TaskRunStatus`` → public status (``apiStatusFromRunStatus``); anything else is QUEUED."""

_QUEUED = {"PENDING_VERSION", "QUEUED", "PENDING", "DELAYED"}
_EXECUTING = {"DEQUEUED", "EXECUTING"}
_FAILED = {"FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"}
_TERMINAL = {str(s) for s in TERMINAL_STATUSES}

DEFAULT_TYPES: Mapping[str, str] = {
    **dict.fromkeys(
        ["createdAt", "updatedAt", "startedAt", "delayUntil", "queuedAt", "expiredAt", "completedAt"],
        "timestamp",
    ),
    "number": "int4",
    "usageDurationMs": "int4",
    "costInCents": "float8",
    "baseCostInCents": "float8",
    "isTest": "bool",
    "error": "jsonb",
    "runTags": "text[]",
    "realtimeStreams": "text[]",
}
"""Column types used when no ``electric-schema`` is known (e.g. right after a must-refetch)."""

STORE_TYPE = "application/store"


def column_types(schema: Mapping[str, Any] | None) -> dict[str, str]:
    """``{column: type}`` from an ``electric-schema`` header value; arrays become ``<type>[]``."""
    types = dict(DEFAULT_TYPES)
    for name, spec in (schema or {}).items():
        if isinstance(spec, Mapping) and isinstance(spec.get("type"), str):
            types[name] = spec["type"] + ("[]" if spec.get("dims") else "")
    return types


def parse_timestamp(text: str) -> datetime:
    """``2026-06-06 10:05:30.12`` (Electric) or ``2026-06-06T10:05:30.123`` (native), as UTC."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T").removesuffix("Z"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_array(text: str) -> list[str]:
    """A Postgres one-dimensional array literal: ``{}``, ``{a,b}``, ``{"a b","x\\"y"}``."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        return [inner]
    inner = inner[1:-1]
    items: list[str] = []
    i, n = 0, len(inner)
    while i < n:
        if inner[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and inner[i] != '"':
                if inner[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(inner[i])
                i += 1
            items.append("".join(chars))
            i += 2  # closing quote and comma
        else:
            end = inner.find(",", i)
            end = n if end == -1 else end
            items.append(inner[i:end])
            i = end + 1
    return items


def decode_value(kind: str, text: str | None) -> Any:
    """One column value from its text form (``None`` stays ``None``; bad values stay text)."""
    if text is None:
        return None
    try:
        if kind.endswith("[]"):
            return parse_array(text)
        if kind.startswith("timestamp"):
            return parse_timestamp(text)
        if kind in ("int2", "int4", "int8"):
            return int(text)
        if kind in ("float4", "float8", "numeric"):
            return float(text)
        if kind == "bool":
            return text in ("t", "true")
        if kind in ("json", "jsonb"):
            return json.loads(text)
    except ValueError:
        return text
    return text


def decode_row(value: Mapping[str, str | None], types: Mapping[str, str]) -> Row:
    """A message ``value`` with every column decoded by its type."""
    return {name: decode_value(types.get(name, "text"), text) for name, text in value.items()}


def decode_packet(data: Any, data_type: Any) -> Any:
    """``{data, dataType}`` → value: JSON parsed, superjson's ``json`` part, text as is."""
    if data is None:
        return None
    if data_type == "application/json" or data_type is None:
        try:
            return json.loads(data)
        except (TypeError, ValueError):
            return data
    if data_type == "application/super+json":
        try:
            parsed = json.loads(data)
        except (TypeError, ValueError):
            return data
        return parsed.get("json") if isinstance(parsed, dict) else parsed
    if data_type == STORE_TYPE:
        return (
            None  # an object-store path (``payloadStoragePath``/``outputStoragePath``): the feed resolves it
        )
    return data


def public_status(internal: Any) -> str:
    return STATUS_MAP.get(str(internal), "QUEUED")


def error_object(error: Any) -> dict[str, Any] | None:
    """``createJsonErrorObject``: the run's ``TaskRunError`` as ``{name, message, stackTrace}``."""
    if not isinstance(error, Mapping):
        return None if error is None else {"message": str(error)}
    kind = error.get("type")
    if kind == "BUILT_IN_ERROR":
        return {
            "name": error.get("name"),
            "message": error.get("message"),
            "stackTrace": error.get("stackTrace"),
        }
    if kind in ("STRING_ERROR", "CUSTOM_ERROR"):
        raw = error.get("raw")
        return {"message": raw if isinstance(raw, str) else json.dumps(raw)}
    if kind == "INTERNAL_ERROR":
        return {"message": f"trigger.dev internal error ({error.get('code')})"}
    return {"message": error.get("message") or json.dumps(dict(error))}


def row_to_run(row: Mapping[str, Any]) -> Run:
    """The public run object for one decoded row (``transformRunShape``)."""
    status = public_status(row.get("status"))
    output_type = row.get("outputType")
    fields: dict[str, Any] = {
        "id": row.get("friendlyId") or row.get("id"),
        "status": status,
        "taskIdentifier": row.get("taskIdentifier") or "",
        "createdAt": row.get("createdAt"),
        "updatedAt": row.get("updatedAt"),
        "startedAt": row.get("startedAt"),
        "finishedAt": row.get("completedAt"),
        "delayedUntil": row.get("delayUntil"),
        "queuedAt": row.get("queuedAt"),
        "expiredAt": row.get("expiredAt"),
        "ttl": row.get("ttl"),
        "isTest": bool(row.get("isTest")),
        "number": row.get("number"),
        "durationMs": row.get("usageDurationMs") or 0,
        "costInCents": row.get("costInCents") or 0,
        "baseCostInCents": row.get("baseCostInCents") or 0,
        "tags": row.get("runTags") or [],
        "realtimeStreams": row.get("realtimeStreams") or [],
        "payload": decode_packet(row.get("payload"), row.get("payloadType")),
        "output": decode_packet(row.get("output"), output_type),
        "outputType": output_type,
        "outputInFeed": "output" in row and output_type != STORE_TYPE,
        "error": error_object(row.get("error")),
        "isQueued": status in _QUEUED,
        "isWaiting": status == "WAITING",
        "isExecuting": status in _EXECUTING,
        "isCompleted": status == "COMPLETED" or status in _FAILED,
        "isSuccess": status == "COMPLETED",
        "isFailed": status in _FAILED,
        "isCancelled": status == "CANCELED",
    }
    for what in ("payload", "output"):
        if row.get(f"{what}Type") == STORE_TYPE and isinstance(row.get(what), str) and row[what]:
            fields[f"{what}StoragePath"] = row[what]
    if row.get("metadata") is not None and row.get("metadataType"):
        fields["metadata"] = decode_packet(row["metadata"], row["metadataType"])
    return Run.model_validate(fields)


def output_in_feed(run: Run) -> bool:
    """True when ``run.output`` is the real output (not skipped, not an unresolved object-store path).

    Runs from ``runs.retrieve`` always count as complete; realtime runs carry an ``outputInFeed`` flag.
    """
    extra = run.model_extra or {}
    return bool(extra.get("outputInFeed", True))


def row_finished(row: Mapping[str, Any]) -> bool:
    """The single-run feed's end: ``completedAt`` is set, or the mapped status is terminal."""
    return row.get("completedAt") is not None or public_status(row.get("status")) in _TERMINAL
