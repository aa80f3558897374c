"""Trigger options: keyword-only snake_case arguments → the API's camelCase ``options`` object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from airflow_provider_trigger.client._idempotency import IdempotencyKey, make_key
from airflow_provider_trigger.client._request import iso
from airflow_provider_trigger.client._types import drop_unset
from airflow_provider_trigger.client.errors import TriggerClientError


class TriggerOptions(TypedDict, total=False):
    """Options of one trigger (also the ``options`` of a batch item), in snake_case."""

    queue: str
    concurrency_key: str | int
    idempotency_key: IdempotencyKey
    idempotency_key_ttl: str
    delay: str | datetime
    ttl: str | int
    tags: str | Sequence[str]
    max_attempts: int
    max_duration: int | float
    metadata: Any
    machine: str
    version: str
    priority: int | float
    region: str
    test: bool
    debounce: Mapping[str, Any]


OPTION_NAMES = frozenset(TriggerOptions.__annotations__)


def trigger_options(options: Mapping[str, Any], *, hashed_key: str | None = None) -> dict[str, Any]:
    """Build the wire ``options`` (unset values left out, never null).

    ``hashed_key`` supplies a key when the options carry none (batch items inherit one).
    """
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise TriggerClientError(f"unknown trigger option(s): {', '.join(sorted(unknown))}")
    key, key_options = make_key(options.get("idempotency_key"))
    tags = options.get("tags")
    queue = options.get("queue")
    return drop_unset(
        {
            "queue": {"name": queue} if queue else None,
            "concurrencyKey": options.get("concurrency_key"),
            "payloadType": "application/json",
            "idempotencyKey": key or hashed_key,
            "idempotencyKeyTTL": options.get("idempotency_key_ttl"),
            "idempotencyKeyOptions": key_options,
            "delay": iso(options.get("delay")),
            "ttl": options.get("ttl"),
            "tags": [tags] if isinstance(tags, str) else list(tags) if tags is not None else None,
            "maxAttempts": options.get("max_attempts"),
            "maxDuration": options.get("max_duration"),
            "metadata": options.get("metadata"),
            "machine": options.get("machine"),
            "lockToVersion": options.get("version"),
            "priority": options.get("priority"),
            "region": options.get("region"),
            "test": options.get("test"),
            "debounce": dict(options["debounce"]) if options.get("debounce") else None,
        }
    )
