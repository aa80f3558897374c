"""The only module that imports the HTTP libraries: ``requests`` (sync, on first use) and ``httpx`` (async).

One pooled, keep-alive session per client; library errors become ``ApiConnectionError``;
every attempt of one call goes through the client's retry policy with the same headers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from airflow_provider_trigger.client._constants import USER_AGENT
from airflow_provider_trigger.client._core import ClientConfig, Prepared, finish, prepare
from airflow_provider_trigger.client._request import ApiRequest
from airflow_provider_trigger.client._response import RawResponse
from airflow_provider_trigger.client.errors import ApiConnectionError, ApiTimeoutError

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
DEFAULT_POOL_SIZE = 10
OFF_LOOP_BYTES = 16 * 1024
"""Async responses larger than this are decoded (JSON, models) in a worker thread, not on the event
loop: a page of 100 runs or a realtime snapshot of 1,000 runs takes 10-100 ms of CPU (several times that
on a busy triggerer), which Airflow's triggerer reports as a blocked loop and which delays every other
trigger in the process. Small responses (a run's state) stay on the loop, where a thread costs more."""
BARE_HEADERS = {"Accept": "*/*", "User-Agent": USER_AGENT}
"""The only headers sent to a presigned URL: no credential, none of the client's API headers."""
BareResponse = tuple[int, dict[str, str], bytes]


def _bare_error(host: str, exc: Exception, timeout: bool) -> ApiConnectionError:
    """A connection error naming only the host (a presigned URL's query holds its signature)."""
    if timeout:
        return ApiTimeoutError(f"request to {host} timed out ({type(exc).__name__})")
    return ApiConnectionError(f"could not reach {host} ({type(exc).__name__})")


def _no_auth() -> Any:
    """An auth that makes sure no Authorization header (e.g. from ~/.netrc) goes to a presigned URL
    (built on first use: ``requests`` is imported only by the sync client)."""
    import requests.auth

    class _NoAuth(requests.auth.AuthBase):
        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            request.headers.pop("Authorization", None)
            return request

    return _NoAuth()


def _connection_error(prepared: Prepared, exc: Exception, timeout: bool) -> ApiConnectionError:
    what = f"{prepared.method} {prepared.url}"
    if timeout:
        return ApiTimeoutError(f"request timed out: {what} ({type(exc).__name__})")
    return ApiConnectionError(f"could not reach the Trigger.dev API: {what} ({type(exc).__name__})")


def new_session(pool_size: int = DEFAULT_POOL_SIZE) -> requests.Session:
    # imported here: ``requests`` takes ~0.4 s to import and the triggerer (async only) never needs it;
    # Airflow imports a trigger's module on the triggerer's event loop, so that time blocked the loop
    import requests
    import requests.adapters

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SyncTransport:
    """Runs ``ApiRequest``s over one ``requests.Session``."""

    def __init__(self, config: ClientConfig, session: requests.Session) -> None:
        self.config = config
        self.session = session

    def send(self, request: ApiRequest[T]) -> RawResponse[T]:
        prepared = prepare(self.config, request)
        attempts = 0

        import requests

        def attempt() -> RawResponse[T]:
            nonlocal attempts
            attempts += 1
            data: Any = prepared.stream() if prepared.stream is not None else prepared.body
            try:
                response = self.session.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.query,
                    data=data,
                    headers=prepared.headers,
                    timeout=prepared.timeout,
                )
            except requests.Timeout as exc:
                raise _connection_error(prepared, exc, timeout=True) from None
            except requests.RequestException as exc:
                raise _connection_error(prepared, exc, timeout=False) from None
            return finish(
                prepared, request, response.status_code, response.headers, response.content, attempts
            )

        return prepared.policy.call(attempt)

    def get_bare(self, url: str, host: str, timeout: float | None) -> BareResponse:
        """One GET of an absolute (presigned) URL with no credentials, cookies or API headers."""
        import requests

        prepared = requests.Request("GET", url, headers=BARE_HEADERS, auth=_no_auth()).prepare()
        settings = self.session.merge_environment_settings(url, {}, None, None, None)
        try:
            response = self.session.send(prepared, timeout=timeout, allow_redirects=False, **settings)
        except requests.Timeout as exc:
            raise _bare_error(host, exc, timeout=True) from None
        except requests.RequestException as exc:
            raise _bare_error(host, exc, timeout=False) from None
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    def close(self) -> None:
        self.session.close()


async def _aiter(lines: Iterator[bytes]) -> AsyncIterator[bytes]:
    for line in lines:
        yield line


class _NoPresignedQueries(logging.Filter):
    """Keeps presigned URLs' signatures out of httpx's and urllib3's request log lines (httpx logs every
    request URL at INFO): the query of a URL carrying ``X-Amz-Signature`` is replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("X-Amz-" in str(a) for a in record.args):
            record.args = tuple(_strip_signed_query(a) for a in record.args)
        elif "X-Amz-" in str(record.msg):
            record.msg = _strip_signed_query(record.msg)
        return True


def _strip_signed_query(value: Any) -> Any:
    text = str(value)
    if "X-Amz-" not in text:
        return value
    return re.sub(r"\?[^\s\"']*X-Amz-[^\s\"']*", "?<presigned query hidden>", text)


for _name in ("httpx", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_NoPresignedQueries())


class AsyncTransport:
    """Runs ``ApiRequest``s over one ``httpx.AsyncClient``, at most ``gate``'s size in flight at once.

    Requests beyond the pool size wait on the gate (FIFO, O(1) per wake-up), not in httpcore's queue,
    which is rescanned whole each time a connection frees up: 1,000 concurrent polls queued there cost
    O(n²) event-loop CPU (measured: 25 s to send 1,000 first polls on a pool of 10, 6-9 s with the gate).
    """

    def __init__(
        self, config: ClientConfig, http: httpx.AsyncClient, gate: asyncio.Semaphore | None = None
    ) -> None:
        self.config = config
        self.http = http
        self.gate = gate or asyncio.Semaphore(DEFAULT_POOL_SIZE)

    async def _enter(self, prepared: Prepared) -> None:
        """Take an in-flight slot; waiting longer than the request's timeout fails as a pool timeout would."""
        if not self.gate.locked():
            await self.gate.acquire()  # free slot: returns at once
            return
        try:
            async with asyncio.timeout(prepared.timeout):
                await self.gate.acquire()
        except TimeoutError as exc:
            raise _connection_error(prepared, exc, timeout=True) from None

    async def send(self, request: ApiRequest[T]) -> RawResponse[T]:
        prepared = prepare(self.config, request)
        attempts = 0

        async def attempt() -> RawResponse[T]:
            nonlocal attempts
            attempts += 1
            content: Any = _aiter(prepared.stream()) if prepared.stream is not None else prepared.body
            await self._enter(prepared)
            try:
                response = await self.http.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.query,
                    content=content,
                    headers=prepared.headers,
                    timeout=prepared.timeout,
                )
            except httpx.TimeoutException as exc:
                raise _connection_error(prepared, exc, timeout=True) from None
            except httpx.TransportError as exc:
                raise _connection_error(prepared, exc, timeout=False) from None
            finally:
                self.gate.release()
            status, headers, content = response.status_code, response.headers, response.content
            if len(content) > OFF_LOOP_BYTES:
                return await asyncio.to_thread(finish, prepared, request, status, headers, content, attempts)
            return finish(prepared, request, status, headers, content, attempts)

        return await prepared.policy.acall(attempt)

    async def get_bare(self, url: str, host: str, timeout: float | None) -> BareResponse:
        """One GET of an absolute (presigned) URL with no credentials, cookies or API headers."""
        request = httpx.Request(
            "GET", url, headers=BARE_HEADERS, extensions={"timeout": httpx.Timeout(timeout).as_dict()}
        )
        await self._enter_bare(host, timeout)
        try:
            response = await self.http.send(request, auth=None, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise _bare_error(host, exc, timeout=True) from None
        except httpx.TransportError as exc:
            raise _bare_error(host, exc, timeout=False) from None
        finally:
            self.gate.release()
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    async def _enter_bare(self, host: str, timeout: float | None) -> None:
        if not self.gate.locked():
            await self.gate.acquire()
            return
        try:
            async with asyncio.timeout(timeout):
                await self.gate.acquire()
        except TimeoutError as exc:
            raise _bare_error(host, exc, timeout=True) from None

    async def aclose(self) -> None:
        await self.http.aclose()
