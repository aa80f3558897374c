"""Run filters shared by ``runs.list`` (query string) and ``runs.bulk`` (JSON body)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypedDict

from airflow_provider_trigger.client._request import comma, epoch_ms
from airflow_provider_trigger.client._types import drop_unset
from airflow_provider_trigger.client.errors import TriggerClientError

QueueRef = str | Mapping[str, str]
DateLike = datetime | date | int | float | str
Many = str | Sequence[str]


class RunFilter(TypedDict, total=False):
    """The runs filter, snake_case (``from_`` for ``from``)."""

    status: Many
    task_identifier: Many
    version: Many
    tag: Many
    from_: DateLike
    to: DateLike
    period: str
    is_test: bool
    schedule: str
    bulk_action: str
    batch: str
    queue: QueueRef | Sequence[QueueRef]
    machine: Many
    region: Many


_WIRE_NAMES = {
    "status": "status",
    "task_identifier": "taskIdentifier",
    "version": "version",
    "tag": "tag",
    "from_": "from",
    "to": "to",
    "period": "period",
    "is_test": "isTest",
    "schedule": "schedule",
    "bulk_action": "bulkAction",
    "batch": "batch",
    "queue": "queue",
    "machine": "machine",
    "region": "region",
}


def queue_name(queue: QueueRef) -> str:
    """A queue filter value: ``{"type": "task", "name": n}`` → ``task/n``; a string as is."""
    if isinstance(queue, str):
        return queue
    kind, name = queue.get("type"), queue.get("name")
    if kind not in ("task", "custom") or not name:
        raise TriggerClientError('a queue must be a name or {"type": "task" | "custom", "name": ...}')
    return f"task/{name}" if kind == "task" else name


def _queues(value: QueueRef | Sequence[QueueRef]) -> list[QueueRef]:
    return [value] if isinstance(value, str | Mapping) else list(value)


def run_filter_query(filters: Mapping[str, Any]) -> dict[str, str]:
    """``filter[...]`` query parameters; lists comma-joined, dates as epoch milliseconds."""
    unknown = set(filters) - set(_WIRE_NAMES)
    if unknown:
        raise TriggerClientError(f"unknown run filter(s): {', '.join(sorted(unknown))}")
    is_test = filters.get("is_test")
    queue = filters.get("queue")
    values = {
        "filter[status]": comma(filters.get("status")),
        "filter[taskIdentifier]": comma(filters.get("task_identifier")),
        "filter[version]": comma(filters.get("version")),
        "filter[tag]": comma(filters.get("tag")),
        "filter[bulkAction]": filters.get("bulk_action"),
        "filter[schedule]": filters.get("schedule"),
        "filter[isTest]": None if is_test is None else ("true" if is_test else "false"),
        "filter[createdAt][from]": epoch_ms(filters.get("from_")),
        "filter[createdAt][to]": epoch_ms(filters.get("to")),
        "filter[createdAt][period]": filters.get("period"),
        "filter[batch]": filters.get("batch"),
        "filter[queue]": comma([queue_name(q) for q in _queues(queue)]) if queue is not None else None,
        "filter[machine]": comma(filters.get("machine")),
        "filter[region]": comma(filters.get("region")),
    }
    return {k: str(v) for k, v in values.items() if v is not None}


def _queue_object(queue: QueueRef) -> dict[str, str]:
    if isinstance(queue, str):
        return (
            {"type": "task", "name": queue[5:]}
            if queue.startswith("task/")
            else {"type": "custom", "name": queue}
        )
    queue_name(queue)  # validates
    return {"type": queue["type"], "name": queue["name"]}


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else value


def _non_empty(value: Any) -> bool:
    if isinstance(value, list):
        return any(_non_empty(v) for v in value)
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def run_filter_body(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The bulk-action ``filter`` object (camelCase, arrays kept, dates as epoch ms)."""
    unknown = set(filters) - set(_WIRE_NAMES)
    if unknown:
        raise TriggerClientError(f"unknown run filter(s): {', '.join(sorted(unknown))}")
    body: dict[str, Any] = {}
    for key, value in drop_unset(filters).items():
        wire = _WIRE_NAMES[key]
        if key in ("from_", "to"):
            body[wire] = int(epoch_ms(value) or 0) if not isinstance(value, str) else value
        elif key == "queue":
            body[wire] = [_queue_object(q) for q in _queues(value)]
        elif key in ("status", "task_identifier", "version", "tag", "machine", "region"):
            body[wire] = _listify(value)
        else:
            body[wire] = value
    if not any(_non_empty(v) for v in body.values()):
        raise TriggerClientError("a bulk-action filter needs at least one non-empty field")
    return body
