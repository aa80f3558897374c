"""``TriggerClient`` (sync, requests) and ``AsyncTriggerClient`` (async, httpx).

Both expose the same resources, built from the same classes; only the executor differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self

import httpx

from airflow_provider_trigger.client._constants import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from airflow_provider_trigger.client._core import ClientConfig
from airflow_provider_trigger.client._executor import (
    Async,
    AsyncExecutor,
    AsyncRaw,
    Executor,
    M,
    Sync,
    SyncExecutor,
    SyncRaw,
)
from airflow_provider_trigger.client._keys import (
    KeyKind,
    key_kind,
    resolve_api_key,
    resolve_base_url,
    resolve_branch,
)
from airflow_provider_trigger.client._retry import AsyncSleep, Clock, SyncSleep
from airflow_provider_trigger.client._transport import (
    DEFAULT_POOL_SIZE,
    AsyncTransport,
    SyncTransport,
    new_session,
)
from airflow_provider_trigger.client._types import RequestOptions, RetryOptions
from airflow_provider_trigger.client.resources.batches import Batches
from airflow_provider_trigger.client.resources.deployments import Deployments
from airflow_provider_trigger.client.resources.envvars import EnvVars
from airflow_provider_trigger.client.resources.idempotency_keys import IdempotencyKeys
from airflow_provider_trigger.client.resources.observability import Errors, Query
from airflow_provider_trigger.client.resources.queues import Queues
from airflow_provider_trigger.client.resources.runs import Runs
from airflow_provider_trigger.client.resources.schedules import Schedules
from airflow_provider_trigger.client.resources.sessions import Prompts, Sessions
from airflow_provider_trigger.client.resources.tasks import Tasks
from airflow_provider_trigger.client.resources.waitpoints import Waitpoints

if TYPE_CHECKING:
    import requests


class _Resources(Generic[M]):
    """The resource attributes, created on first use."""

    _executor: Executor

    @cached_property
    def tasks(self) -> Tasks[M]:
        return Tasks(self._executor)

    @cached_property
    def runs(self) -> Runs[M]:
        return Runs(self._executor)

    @cached_property
    def envvars(self) -> EnvVars[M]:
        return EnvVars(self._executor)

    @cached_property
    def schedules(self) -> Schedules[M]:
        return Schedules(self._executor)

    @cached_property
    def queues(self) -> Queues[M]:
        return Queues(self._executor)

    @cached_property
    def waitpoints(self) -> Waitpoints[M]:
        return Waitpoints(self._executor)

    @cached_property
    def deployments(self) -> Deployments[M]:
        return Deployments(self._executor)

    @cached_property
    def batches(self) -> Batches[M]:
        return Batches(self._executor)

    @cached_property
    def idempotency_keys(self) -> IdempotencyKeys[M]:
        return IdempotencyKeys(self._executor)

    @cached_property
    def errors(self) -> Errors[M]:
        return Errors(self._executor)

    @cached_property
    def query(self) -> Query[M]:
        return Query(self._executor)

    @cached_property
    def sessions(self) -> Sessions[M]:
        return Sessions(self._executor)

    @cached_property
    def prompts(self) -> Prompts[M]:
        return Prompts(self._executor)


class RawResponses(_Resources[M]):
    """``client.with_raw_response``: the same resources, returning ``RawResponse`` objects."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor


def _config(
    api_key: str | None,
    base_url: str | None,
    preview_branch: str | None,
    timeout: float,
    retry: RetryOptions | None,
    extra_headers: Mapping[str, str] | None,
    sleep: SyncSleep,
    async_sleep: AsyncSleep,
    clock: Clock,
) -> ClientConfig:
    key = resolve_api_key(api_key)
    return ClientConfig(
        api_key=key,
        kind=key_kind(key),
        base_url=resolve_base_url(base_url, DEFAULT_BASE_URL),
        preview_branch=resolve_branch(preview_branch),
        options=RequestOptions(
            retry=retry or RetryOptions(), timeout=timeout, extra_headers=dict(extra_headers or {})
        ),
        sleep=sleep,
        async_sleep=async_sleep,
        clock=clock,
    )


def _with_options(
    config: ClientConfig,
    retry: RetryOptions | None,
    timeout: float | None,
    extra_headers: Mapping[str, str] | None,
) -> ClientConfig:
    options = config.options.merged(
        RequestOptions(retry=retry, timeout=timeout, extra_headers=extra_headers or {})
    )
    return replace(config, options=options)


class _ClientBase:
    _config: ClientConfig

    @property
    def key_kind(self) -> KeyKind:
        """``KeyKind.SECRET`` or ``KeyKind.PAT``."""
        return self._config.kind

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def preview_branch(self) -> str | None:
        return self._config.preview_branch

    @property
    def retry(self) -> RetryOptions:
        return self._config.options.retry or RetryOptions()

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(base_url={self.base_url!r}, key_kind={self.key_kind.value!r})"


class TriggerClient(_ClientBase, _Resources[Sync]):
    """Synchronous client: one keep-alive ``requests.Session`` per client.

    With no ``api_key`` it reads ``TRIGGER_SECRET_KEY`` or ``TRIGGER_ACCESS_TOKEN``; ``base_url``
    defaults to ``TRIGGER_API_URL`` then ``https://api.trigger.dev``; ``preview_branch`` to
    ``TRIGGER_PREVIEW_BRANCH``. ``sleep`` and ``clock`` are what the retry policy waits with and
    reads the time from (tests inject their own).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        preview_branch: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        sleep: SyncSleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        config = _config(
            api_key, base_url, preview_branch, timeout, retry, extra_headers, sleep, asyncio.sleep, clock
        )
        self._setup(config, session or new_session(pool_size))

    def _setup(self, config: ClientConfig, session: requests.Session) -> None:
        self._config = config
        self._transport = SyncTransport(config, session)
        self._executor = SyncExecutor(self._transport)

    def with_options(
        self,
        *,
        retry: RetryOptions | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> TriggerClient:
        """A copy with other defaults, sharing this client's connection pool."""
        copy = object.__new__(TriggerClient)
        copy._setup(_with_options(self._config, retry, timeout, extra_headers), self._transport.session)
        return copy

    @cached_property
    def with_raw_response(self) -> RawResponses[SyncRaw]:
        """``client.with_raw_response.runs.retrieve(...)`` → ``RawResponse[Run]`` (status, headers, data)."""
        return RawResponses(SyncExecutor(self._transport, raw=True))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncTriggerClient(_ClientBase, _Resources[Async]):
    """Asynchronous client: one ``httpx.AsyncClient`` (connection pool) per client.

    Same resources and options as ``TriggerClient``; ``sleep`` must be an async callable.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        preview_branch: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryOptions | None = None,
        extra_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        sleep: AsyncSleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        config = _config(
            api_key, base_url, preview_branch, timeout, retry, extra_headers, time.sleep, sleep, clock
        )
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        http = http_client or httpx.AsyncClient(limits=limits, timeout=timeout)
        self._setup(config, http, asyncio.Semaphore(pool_size))

    def _setup(self, config: ClientConfig, http: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        self._config = config
        self._transport = AsyncTransport(config, http, gate)  # gate: at most pool_size requests in flight
        self._executor = AsyncExecutor(self._transport)

    def with_options(
        self,
        *,
        retry: RetryOptions | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncTriggerClient:
        copy = object.__new__(AsyncTriggerClient)
        copy._setup(
            _with_options(self._config, retry, timeout, extra_headers),
            self._transport.http,
            self._transport.gate,
        )
        return copy

    @cached_property
    def with_raw_response(self) -> RawResponses[AsyncRaw]:
        return RawResponses(AsyncExecutor(self._transport, raw=True))

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
