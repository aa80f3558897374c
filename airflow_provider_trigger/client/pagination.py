"""Page objects for list calls, sync and async, cursor and offset style.

A page holds its items (``data``) and knows how to fetch its neighbours: the next page repeats
the first request with every filter and only the cursor or page number changed. Iterating a page
yields every item of it and of all the pages after it, fetched lazily one page at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from airflow_provider_trigger.client._request import PageRequest
from airflow_provider_trigger.client.errors import TriggerClientError

T = TypeVar("T")


class BasePage(Generic[T]):
    """Items of one page plus the raw ``pagination`` block; style-specific navigation in subclasses."""

    def __init__(self, data: list[T], pagination: Mapping[str, Any], request: PageRequest[T]) -> None:
        self.data = data
        self.pagination = dict(pagination)
        self._request = request

    def has_next_page(self) -> bool:
        raise NotImplementedError

    def has_previous_page(self) -> bool:
        raise NotImplementedError

    def _next_request(self) -> PageRequest[T]:
        raise NotImplementedError

    def _previous_request(self) -> PageRequest[T]:
        raise NotImplementedError

    def _neighbour(self, request: PageRequest[T], **query: str | None) -> PageRequest[T]:
        return PageRequest(request.request.with_query(**query), request.item, request.style, request.backward)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.data)}, pagination={self.pagination!r})"


class _Cursor(BasePage[T]):
    """``page[after]``/``page[before]`` cursors from ``pagination.next``/``previous``."""

    def has_next_page(self) -> bool:
        return bool(self.pagination.get("next"))

    def has_previous_page(self) -> bool:
        return self._request.backward and bool(self.pagination.get("previous"))

    def _next_request(self) -> PageRequest[T]:
        if not self.has_next_page():
            raise TriggerClientError("there is no next page")
        return self._neighbour(self._request, after=str(self.pagination["next"]), before=None)

    def _previous_request(self) -> PageRequest[T]:
        if not self.has_previous_page():
            raise TriggerClientError("there is no previous page")
        return self._neighbour(self._request, before=str(self.pagination["previous"]), after=None)


class _Offset(BasePage[T]):
    """``page``/``perPage`` with ``pagination.currentPage``/``totalPages``."""

    @property
    def current_page(self) -> int:
        return int(self.pagination.get("currentPage") or 1)

    @property
    def total_pages(self) -> int:
        return int(self.pagination.get("totalPages") or 0)

    def has_next_page(self) -> bool:
        return self.current_page < self.total_pages

    def has_previous_page(self) -> bool:
        return self.current_page > 1

    def _next_request(self) -> PageRequest[T]:
        if not self.has_next_page():
            raise TriggerClientError("there is no next page")
        return self._neighbour(self._request, page=str(self.current_page + 1))

    def _previous_request(self) -> PageRequest[T]:
        if not self.has_previous_page():
            raise TriggerClientError("there is no previous page")
        return self._neighbour(self._request, page=str(self.current_page - 1))


class SyncPage(BasePage[T]):
    """A page of the sync client: ``for item in page`` walks every following page lazily."""

    def __init__(
        self,
        data: list[T],
        pagination: Mapping[str, Any],
        request: PageRequest[T],
        fetch: Callable[[PageRequest[T]], SyncPage[T]],
    ) -> None:
        super().__init__(data, pagination, request)
        self._fetch = fetch

    def get_next_page(self) -> SyncPage[T]:
        return self._fetch(self._next_request())

    def get_previous_page(self) -> SyncPage[T]:
        return self._fetch(self._previous_request())

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page, then each following page; only the current one is kept."""
        page: SyncPage[T] = self
        yield page
        while page.has_next_page():
            page = page.get_next_page()
            yield page

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(BasePage[T]):
    """A page of the async client: ``async for item in page`` walks every following page lazily."""

    def __init__(
        self,
        data: list[T],
        pagination: Mapping[str, Any],
        request: PageRequest[T],
        fetch: Callable[[PageRequest[T]], Awaitable[AsyncPage[T]]],
    ) -> None:
        super().__init__(data, pagination, request)
        self._fetch = fetch

    async def get_next_page(self) -> AsyncPage[T]:
        return await self._fetch(self._next_request())

    async def get_previous_page(self) -> AsyncPage[T]:
        return await self._fetch(self._previous_request())

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] = self
        yield page
        while page.has_next_page():
            page = await page.get_next_page()
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class CursorPage(_Cursor[T], SyncPage[T]):
    """Cursor-paginated page (runs, bulk actions, waitpoint tokens, deployments, errors, sessions)."""


class OffsetPage(_Offset[T], SyncPage[T]):
    """Offset-paginated page (schedules, queues)."""


class AsyncCursorPage(_Cursor[T], AsyncPage[T]):
    """Cursor-paginated page of the async client."""


class AsyncOffsetPage(_Offset[T], AsyncPage[T]):
    """Offset-paginated page of the async client."""


def page_parts(body: Any, request: PageRequest[T]) -> tuple[list[T], Mapping[str, Any]]:
    """Items and pagination block of a list response (tolerates a missing ``pagination``)."""
    body = body if isinstance(body, dict) else {}
    items = [request.item(raw) for raw in body.get("data") or []]
    return items, body.get("pagination") or {}
