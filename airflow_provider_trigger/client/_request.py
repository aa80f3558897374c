"""Request descriptions: what resource methods return and both transports execute.

A resource method never talks HTTP. It validates its arguments and returns an ``ApiRequest``
(one call), a ``PageRequest`` (a list call) or a generator of ``ApiRequest``s (a multi-step flow,
e.g. batch trigger). The sync and async clients run these descriptions with the same code path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from airflow_provider_trigger.client._types import Auth, RequestOptions, omit
from airflow_provider_trigger.client.errors import TriggerClientError

T = TypeVar("T")
PageStyle = Literal["cursor", "offset"]


@dataclass(frozen=True, slots=True)
class ApiRequest(Generic[T]):
    """One API call: method, encoded path, query, body, accepted credential and result parser."""

    method: str
    path: str
    parse: Callable[[Any], T]
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = omit
    stream: Callable[[], Iterator[bytes]] | None = None
    content_type: str = "application/json"
    auth: Auth = "secret"
    none_on_404: bool = False
    options: RequestOptions | None = None
    hint: str | None = None
    """Appended to a wrong-credential error (e.g. "pass project_ref= to use a PAT")."""
    resolve_packets: bool = False
    """The parsed ``Run`` may carry presigned payload/output URLs: fetch them (``client.packets``)."""

    def with_query(self, **changes: str | None) -> ApiRequest[T]:
        """A copy with query parameters set (``None`` removes one)."""
        query = {**self.query}
        for key, value in changes.items():
            name = _PAGE_PARAMS.get(key, key)
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        return replace(self, query=query)


_PAGE_PARAMS = {"after": "page[after]", "before": "page[before]", "size": "page[size]"}


@dataclass(frozen=True, slots=True)
class PageRequest(Generic[T]):
    """A list call: the first page's request, how to parse one item, and the pagination style."""

    request: ApiRequest[Any]
    item: Callable[[Any], T]
    style: PageStyle = "cursor"
    backward: bool = True


def identity(value: Any) -> Any:
    return value


def segment(value: str, what: str) -> str:
    """Percent-encode one path segment (``/`` and spaces included); empty values are refused."""
    if not isinstance(value, str) or not value.strip():
        raise TriggerClientError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def queue_segment(value: str, what: str = "queue") -> str:
    """Queue names: ``/`` pre-encoded as ``%2F`` then the whole name encoded, as the SDK does."""
    return segment(value.replace("/", "%2F") if value else value, what)


def comma(value: str | Iterable[str] | None) -> str | None:
    """A list filter as one comma-joined parameter (the server keeps only the last repeated key)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    joined = ",".join(str(v) for v in value)
    return joined or None


def epoch_ms(value: datetime | date | int | float | str | None) -> str | None:
    """A ``filter[createdAt]`` bound: datetimes become epoch milliseconds, strings pass through."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(aware.timestamp() * 1000))
    if isinstance(value, date):
        return str(int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000))
    if isinstance(value, bool):
        raise TriggerClientError("a date filter must be a datetime, epoch milliseconds or a string")
    return str(int(value)) if isinstance(value, int | float) else value


def iso(value: datetime | str | None) -> str | None:
    """A date in a body: ISO 8601 with milliseconds, UTC (``2026-01-02T03:04:05.678Z``)."""
    if value is None or isinstance(value, str):
        return value
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query(**params: str | int | bool | None) -> dict[str, str]:
    """Build a query dict, leaving out unset values; booleans become ``true``/``false``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def json_default(value: Any) -> Any:
    """JSON encoding of the few non-JSON types we accept in bodies: datetimes (ISO ms) and sets."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """Compact JSON; a ``TriggerClientError`` (raised before sending) when it cannot be encoded."""
    try:
        return json.dumps(value, separators=(",", ":"), default=json_default, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise TriggerClientError(f"the request body is not JSON-serialisable: {exc}") from None


def ndjson_lines(items: Sequence[Mapping[str, Any]]) -> Callable[[], Iterator[bytes]]:
    """A re-startable NDJSON body: each call yields one encoded line per item, lazily."""

    def lines() -> Iterator[bytes]:
        for item in items:
            yield dumps(item) + b"\n"

    return lines
