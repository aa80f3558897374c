"""Exceptions raised by the client.

::

    TriggerError
    ├── TriggerClientError          misuse, raised before anything is sent (also a ValueError)
    ├── BatchNotSealedError         the batch item stream was never sealed after all retries
    └── ApiError (alias APIError)   the API answered with an error, or did not answer
        ├── ApiConnectionError      no response (DNS, refused, reset, …)
        │   └── ApiTimeoutError     no response in time
        ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
        ├── NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
        ├── RateLimitError 429      (``ms_until_reset`` / ``seconds_until_reset``)
        ├── InternalServerError ≥ 500
        └── PacketError             an offloaded payload/output could not be fetched or read

No message or repr ever contains an API key: errors carry only response data. A ``PacketError`` names
the run and the object store's host, never the presigned URL's query (its signature).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

_MAX_TEXT = 500


class TriggerError(Exception):
    """Base class of every error raised by this client."""


class TriggerClientError(TriggerError, ValueError):
    """The call cannot be made as asked (wrong credential kind, bad argument); nothing was sent."""


class BatchNotSealedError(TriggerError):
    """The server never sealed the batch: not every item was accepted after all retries."""

    def __init__(self, batch_id: str, body: Mapping[str, Any]) -> None:
        self.batch_id = batch_id
        self.body = dict(body)
        super().__init__(
            f"batch {batch_id} was not sealed: {body.get('enqueuedCount', 0)} of "
            f"{body.get('expectedCount', '?')} items enqueued"
        )


class BatchProcessingTimeoutError(TriggerError, TimeoutError):
    """``batches.wait_until_processed`` gave up: the server had not finished processing the items."""

    def __init__(self, batch_id: str, status: str, timeout: float) -> None:
        self.batch_id = batch_id
        self.status = status
        self.timeout = timeout
        super().__init__(
            f"batch {batch_id} was still {status or 'unknown'} after {timeout:g}s: its items have not all "
            "been processed into runs yet (wait longer, or check the batch in the dashboard)"
        )


class ApiError(TriggerError):
    """An API call failed. ``status`` is None when no response came back."""

    status: int | None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body

    @property
    def code(self) -> str | None:
        """The API's ``code`` field when the body has one (e.g. ``"unauthorized"``)."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


APIError = ApiError


class ApiConnectionError(ApiError):
    """The request got no response (connection refused or reset, DNS failure, …)."""

    def __init__(self, message: str = "Connection error.") -> None:
        super().__init__(message)


class ApiTimeoutError(ApiConnectionError):
    """The request timed out before a response came back."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message)


class BadRequestError(ApiError):
    """400."""


class AuthenticationError(ApiError):
    """401."""


class PermissionDeniedError(ApiError):
    """403."""


class NotFoundError(ApiError):
    """404."""


class ConflictError(ApiError):
    """409."""


class UnprocessableEntityError(ApiError):
    """422."""


class RateLimitError(ApiError):
    """429. ``ms_until_reset`` reads the ``x-ratelimit-reset`` header (epoch milliseconds)."""

    @property
    def ms_until_reset(self) -> int | None:
        reset = _int_header(self.headers.get("x-ratelimit-reset"))
        if reset is None:
            return None
        return max(reset - int(time.time() * 1000), 0)

    @property
    def seconds_until_reset(self) -> float | None:
        ms = self.ms_until_reset
        return None if ms is None else ms / 1000


class InternalServerError(ApiError):
    """A 5xx response."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def parse_body(raw: bytes) -> Any:
    """JSON when it parses, else the text (HTML pages, truncated bodies), else None when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def error_message(status: int, body: Any) -> str:
    """The SDK's rule: ``body.error`` (or its message) when present, else a status line."""
    detail: Any = None
    if isinstance(body, dict):
        detail = body.get("error") or body.get("detail") or body.get("title") or body.get("message")
        if isinstance(detail, dict):
            detail = detail.get("message") or json.dumps(detail)
        elif detail is None:
            detail = json.dumps(body)[:_MAX_TEXT]
    elif isinstance(body, str) and body.strip():
        detail = body.strip()[:_MAX_TEXT]
    elif isinstance(body, list | int | float):  # other JSON bodies (e.g. a bare list of issues)
        detail = json.dumps(body)[:_MAX_TEXT]
    if not detail:
        return f"{status} status code (no body)"
    return f"{status} {detail}"


def error_from_response(status: int, headers: Mapping[str, str], raw: bytes) -> ApiError:
    """Build the error class for ``status`` from a non-2xx response."""
    body = parse_body(raw)
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else ApiError)
    return cls(error_message(status, body), status=status, headers=headers, body=body)


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class PacketError(ApiError):
    """An offloaded payload or output (``payloadPresignedUrl``/``outputPresignedUrl``, or an
    ``application/store`` realtime column) could not be fetched or parsed.

    ``status`` is the object store's HTTP status (``None`` for no response or an unreadable body);
    ``host`` is the URL's host. The URL itself (and its signature) is never kept.
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        what: str,
        host: str,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, status=status, headers=headers, body=body)
        self.run_id = run_id
        self.what = what
        self.host = host
