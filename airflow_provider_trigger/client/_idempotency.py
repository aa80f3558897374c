"""Idempotency keys hashed exactly as the TypeScript SDK does outside a task.

``key`` → ``sha256("-".join(parts)).hexdigest()`` where ``parts`` is ``[key]`` or the list given.
A 64-character string is taken as already hashed and sent unchanged (with no key options).
Outside a task the SDK's default "run" scope adds nothing to the parts, so a key set here dedups
against the same key set from TypeScript.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from airflow_provider_trigger.client.errors import TriggerClientError

IdempotencyKey = str | Sequence[str]


def hash_key(parts: Sequence[str]) -> str:
    """Lower-case hex SHA-256 of the parts joined by ``-``."""
    return hashlib.sha256("-".join(parts).encode()).hexdigest()


def _parts(key: IdempotencyKey) -> list[str]:
    parts = [key] if isinstance(key, str) else [str(part) for part in key]
    if not parts or not all(parts):
        raise TriggerClientError("idempotency_key must be a non-empty string or list of non-empty strings")
    return parts


def make_key(key: IdempotencyKey | None) -> tuple[str | None, dict[str, Any] | None]:
    """The key to send and the ``idempotencyKeyOptions`` to send alongside (None when unset)."""
    if key is None:
        return None, None
    if isinstance(key, str) and len(key) == 64:
        return key, None
    parts = _parts(key)
    return hash_key(parts), {"key": "-".join(parts), "scope": "run"}


def batch_item_key(batch_key: IdempotencyKey, index: int) -> str:
    """Key of a batch item with no key of its own: ``hash([*batch_key, index])``."""
    return hash_key([*_parts(batch_key), str(index)])
