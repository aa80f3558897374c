"""Shared HTTP mechanics: client configuration, request preparation and response handling.

Both transports call ``prepare()`` before sending and ``finish()`` on every response, so header,
credential-check, body-encoding and error rules exist once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_trigger.client._constants import (
    API_VERSION,
    REQUEST_IDEMPOTENCY_HEADER,
    SDK_VERSION,
    USER_AGENT,
)
from airflow_provider_trigger.client._keys import KeyKind
from airflow_provider_trigger.client._request import ApiRequest, dumps
from airflow_provider_trigger.client._response import RawResponse
from airflow_provider_trigger.client._retry import AsyncSleep, Clock, RetryPolicy, SyncSleep
from airflow_provider_trigger.client._types import RequestOptions, RetryOptions, omit
from airflow_provider_trigger.client.errors import (
    ApiError,
    TriggerClientError,
    TriggerError,
    error_from_response,
    parse_body,
)

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ClientConfig:
    """Everything a transport needs; immutable, shared by ``with_options`` copies."""

    api_key: str = field(repr=False)
    kind: KeyKind
    base_url: str
    preview_branch: str | None
    options: RequestOptions
    sleep: SyncSleep
    async_sleep: AsyncSleep
    clock: Clock
    headers: Mapping[str, str] = field(init=False, repr=False)
    _policies: dict[RetryOptions, RetryPolicy] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "trigger-version": SDK_VERSION,
            "x-trigger-api-version": API_VERSION,
            "x-trigger-source": "sdk",
            "x-trigger-realtime-streams-version": "v2",
        }
        if self.preview_branch:
            headers["x-trigger-branch"] = self.preview_branch
        object.__setattr__(self, "headers", headers)

    def policy(self, retry: RetryOptions | None) -> RetryPolicy:
        """The tenacity policy for these options, built once and cached."""
        options = retry or self.options.retry or RetryOptions()
        policy = self._policies.get(options)
        if policy is None:
            with self._lock:
                policy = self._policies.setdefault(
                    options,
                    RetryPolicy(options, sleep=self.sleep, async_sleep=self.async_sleep, clock=self.clock),
                )
        return policy


@dataclass(slots=True)
class Prepared:
    """A request ready to send: the same headers (and request-idempotency key) on every attempt."""

    method: str
    url: str
    query: Mapping[str, str]
    headers: dict[str, str]
    body: bytes | None
    stream: Callable[[], Iterator[bytes]] | None
    timeout: float | None
    policy: RetryPolicy
    idempotency_key: str


def check_auth(config: ClientConfig, request: ApiRequest[Any]) -> None:
    """Refuse, before sending, a call the credential cannot make."""
    where = f"{request.method} {request.path}"
    hint = f" ({request.hint})" if request.hint else ""
    if request.auth == "secret" and config.kind is KeyKind.PAT:
        raise TriggerClientError(
            f"{where} needs an environment secret key (tr_dev_/tr_stg_/tr_prod_/tr_preview_); "
            f"a personal access token cannot call it{hint}"
        )
    if request.auth == "pat" and config.kind is KeyKind.SECRET:
        raise TriggerClientError(
            f"{where} needs a personal access token (tr_pat_); a secret key cannot call it{hint}"
        )
    if (
        request.auth in ("secret", "any")
        and config.api_key.startswith("tr_preview_")
        and not config.preview_branch
    ):
        raise TriggerClientError(
            "a preview-environment key needs a branch: pass preview_branch= or set TRIGGER_PREVIEW_BRANCH"
        )


def prepare(config: ClientConfig, request: ApiRequest[Any]) -> Prepared:
    """Check credentials, encode the body and build headers; mint the request-idempotency key once."""
    check_auth(config, request)
    options = config.options.merged(request.options)
    key = str(uuid.uuid4())
    headers = {**config.headers, REQUEST_IDEMPOTENCY_HEADER: key}
    if request.auth == "none":
        del headers["Authorization"]
    if request.content_type != "application/json":
        headers["Content-Type"] = request.content_type
    if options.extra_headers:
        headers.update(options.extra_headers)
    body = None if request.body is omit else dumps(request.body)
    return Prepared(
        method=request.method,
        url=config.base_url + request.path,
        query=request.query,
        headers=headers,
        body=body,
        stream=request.stream,
        timeout=options.timeout,
        policy=config.policy(options.retry),
        idempotency_key=key,
    )


def finish(
    prepared: Prepared,
    request: ApiRequest[T],
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    attempts: int,
) -> RawResponse[T]:
    """Turn one HTTP response into a result, or raise the matching ``ApiError`` (retried by the policy)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if status >= 400:
        if status == 404 and request.none_on_404:
            parsed: Any = None
        else:
            raise error_from_response(status, lowered, content)
    else:
        body = parse_body(content)
        try:
            parsed = request.parse(body)
        except TriggerError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:  # pydantic's ValidationError included
            raise unreadable_body(prepared, status, lowered, body, exc) from None
    return RawResponse(
        status_code=status,
        headers=lowered,
        parsed=parsed,
        method=prepared.method,
        url=prepared.url,
        retries_taken=attempts - 1,
        request_idempotency_key=prepared.idempotency_key,
    )


def unreadable_body(
    prepared: Prepared, status: int, headers: Mapping[str, str], body: Any, exc: Exception
) -> ApiError:
    """A success status whose body is not what the call returns (truncated, a proxy's page, …)."""
    if body is None:
        what = "an empty body (or JSON null)"
    elif isinstance(body, str):
        what = f"a body that is not JSON (truncated, or a proxy's page?): {body[:200]!r}"
    else:
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else None
        detail = f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}" if first else str(exc)
        what = f"JSON of an unexpected shape ({detail})"
    message = f"{status} response to {prepared.method} {prepared.url} could not be read: {what}"
    return ApiError(message, status=status, headers=headers, body=body)
