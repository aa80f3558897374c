"""How request descriptions are run: one resource class serves the sync, async and raw clients.

Resource methods are written once and decorated with ``@endpoint`` (one request), ``@paginated``
(a list call) or ``@flow`` (a generator of requests, e.g. batch trigger). The decorator binds the
method to its resource's executor, so ``Runs[Sync]().retrieve`` returns a ``Run``,
``Runs[Async]().retrieve`` a coroutine, and the raw variants a ``RawResponse``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from airflow_provider_trigger.client._request import ApiRequest, PageRequest
from airflow_provider_trigger.client._response import RawResponse
from airflow_provider_trigger.client._transport import AsyncTransport, SyncTransport
from airflow_provider_trigger.client.packets import aresolve_run, resolve_run
from airflow_provider_trigger.client.pagination import (
    AsyncCursorPage,
    AsyncOffsetPage,
    AsyncPage,
    CursorPage,
    OffsetPage,
    SyncPage,
    page_parts,
)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Pause:
    """Yielded by a flow to wait ``seconds`` (with the client's ``sleep``); the flow gets the clock back."""

    seconds: float


Flow = Generator[ApiRequest[Any] | Pause, Any, T]


class Sync:
    """Mode marker: methods return results."""


class Async:
    """Mode marker: methods return coroutines."""


class SyncRaw:
    """Mode marker: methods return ``RawResponse``."""


class AsyncRaw:
    """Mode marker: methods return coroutines of ``RawResponse``."""


M = TypeVar("M", Sync, Async, SyncRaw, AsyncRaw)


class SyncExecutor:
    def __init__(self, transport: SyncTransport, raw: bool = False) -> None:
        self.transport = transport
        self.raw = raw

    def call(self, request: ApiRequest[T]) -> Any:
        response = self.transport.send(request)
        if request.resolve_packets:
            response = response.with_parsed(resolve_run(self.transport, response.parsed, request.options))
        return response if self.raw else response.parsed

    def fetch_page(self, request: PageRequest[T]) -> SyncPage[T]:
        return self._page(self.transport.send(request.request), request)

    def _page(self, response: RawResponse[Any], request: PageRequest[T]) -> SyncPage[T]:
        data, pagination = page_parts(response.parsed, request)
        cls = CursorPage if request.style == "cursor" else OffsetPage
        return cls(data, pagination, request, self.fetch_page)

    def page(self, request: PageRequest[T]) -> Any:
        response = self.transport.send(request.request)
        page = self._page(response, request)
        return response.with_parsed(page) if self.raw else page

    def flow(self, steps: Flow[T]) -> Any:
        last: RawResponse[Any] | None = None
        config = self.transport.config
        try:
            request = next(steps)
            while True:
                if isinstance(request, Pause):
                    if request.seconds > 0:
                        config.sleep(request.seconds)
                    request = steps.send(config.clock())
                    continue
                last = self.transport.send(request)
                request = steps.send(last.parsed)
        except StopIteration as done:
            if self.raw and last is not None:
                return last.with_parsed(done.value)
            return done.value


class AsyncExecutor:
    def __init__(self, transport: AsyncTransport, raw: bool = False) -> None:
        self.transport = transport
        self.raw = raw

    async def call(self, request: ApiRequest[T]) -> Any:
        response = await self.transport.send(request)
        if request.resolve_packets:
            resolved = await aresolve_run(self.transport, response.parsed, request.options)
            response = response.with_parsed(resolved)
        return response if self.raw else response.parsed

    async def fetch_page(self, request: PageRequest[T]) -> AsyncPage[T]:
        return self._page(await self.transport.send(request.request), request)

    def _page(self, response: RawResponse[Any], request: PageRequest[T]) -> AsyncPage[T]:
        data, pagination = page_parts(response.parsed, request)
        cls = AsyncCursorPage if request.style == "cursor" else AsyncOffsetPage
        return cls(data, pagination, request, self.fetch_page)

    async def page(self, request: PageRequest[T]) -> Any:
        response = await self.transport.send(request.request)
        page = self._page(response, request)
        return response.with_parsed(page) if self.raw else page

    async def flow(self, steps: Flow[T]) -> Any:
        last: RawResponse[Any] | None = None
        config = self.transport.config
        try:
            request = next(steps)
            while True:
                if isinstance(request, Pause):
                    if request.seconds > 0:
                        await config.async_sleep(request.seconds)
                    request = steps.send(config.clock())
                    continue
                last = await self.transport.send(request)
                request = steps.send(last.parsed)
        except StopIteration as done:
            if self.raw and last is not None:
                return last.with_parsed(done.value)
            return done.value


Executor = SyncExecutor | AsyncExecutor


class Resource(Generic[M]):
    """Base of every resource: holds the executor its methods run on."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor


class _Bound(Generic[P, T]):
    kind = "call"

    def __init__(self, build: Callable[Concatenate[Any, P], Any]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        self.__name__ = build.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def _bind(self, obj: Resource[Any]) -> Callable[..., Any]:
        build = self._build
        run = getattr(obj._executor, self.kind)

        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(build(obj, *args, **kwargs))

        bound.__doc__ = build.__doc__
        bound.__name__ = build.__name__
        obj.__dict__[self._name] = bound  # later lookups skip the descriptor
        return bound


class endpoint(_Bound[P, T]):
    """A method returning one ``ApiRequest[T]``."""

    def __init__(self, build: Callable[Concatenate[Any, P], ApiRequest[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: Resource[SyncRaw], owner: type) -> Callable[P, RawResponse[T]]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncRaw], owner: type
    ) -> Callable[P, Coroutine[Any, Any, RawResponse[T]]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type) -> Any:
        return self if obj is None else self._bind(obj)


class flow(_Bound[P, T]):
    """A method written as a generator of ``ApiRequest``s; each gets the previous parsed result."""

    kind = "flow"

    def __init__(self, build: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> flow[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: Resource[SyncRaw], owner: type) -> Callable[P, RawResponse[T]]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncRaw], owner: type
    ) -> Callable[P, Coroutine[Any, Any, RawResponse[T]]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type) -> Any:
        return self if obj is None else self._bind(obj)


class paginated(_Bound[P, T]):
    """A list method returning a ``PageRequest[T]``; callers get a page object."""

    kind = "page"

    def __init__(self, build: Callable[Concatenate[Any, P], PageRequest[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> paginated[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type) -> Callable[P, SyncPage[T]]: ...
    @overload
    def __get__(
        self, obj: Resource[Async], owner: type
    ) -> Callable[P, Coroutine[Any, Any, AsyncPage[T]]]: ...
    @overload
    def __get__(self, obj: Resource[SyncRaw], owner: type) -> Callable[P, RawResponse[SyncPage[T]]]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncRaw], owner: type
    ) -> Callable[P, Coroutine[Any, Any, RawResponse[AsyncPage[T]]]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type) -> Any:
        return self if obj is None else self._bind(obj)
