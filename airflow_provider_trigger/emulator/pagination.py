"""Cursor (``page[size]/page[after]/page[before]``) and offset (``page/perPage``) pagination."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request

from .errors import ApiError
from .parsing import int_param

T = TypeVar("T")


def cursor_page(
    request: Request,
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    default: int = 25,
    maximum: int = 100,
    both: str = "before_wins",
) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` (newest first) and the ``pagination`` object.

    ``both`` is what happens when ``page[after]`` and ``page[before]`` are both sent: ``before_wins``
    (runs), or ``error400`` / ``error500`` as other endpoints do.
    """
    q = request.query_params
    size = int_param(q.get("page[size]"), "page[size]", maximum=maximum) or default
    after, before = q.get("page[after]"), q.get("page[before]")
    if after and before:
        if both == "error400":
            raise ApiError(400, "Cannot pass both page[after] and page[before]")
        if both == "error500":
            raise ApiError(500, "Internal Server Error")
        after = None
    keys = [key(item) for item in items]
    pagination: dict[str, str] = {}
    if before:
        end = keys.index(before) if before in keys else 0
        start = max(0, end - size)
        page = list(items[start:end])
        if page:
            pagination["next"] = key(page[-1])
            if start > 0 or both == "before_wins":
                pagination["previous"] = key(page[0])
        return page, pagination
    start = keys.index(after) + 1 if after and after in keys else (len(keys) if after else 0)
    page = list(items[start : start + size])
    if start + size < len(items) and page:
        pagination["next"] = key(page[-1])
    if after and page:
        pagination["previous"] = key(page[0])
    return page, pagination


def offset_page(
    request: Request, items: Sequence[T], *, default: int, maximum: int = 100
) -> tuple[list[T], dict[str, Any]]:
    """One page for ``page`` (1-based) and ``perPage`` (capped at ``maximum``)."""
    q = request.query_params
    page = int_param(q.get("page"), "page") or 1
    per_page = min(int_param(q.get("perPage"), "perPage") or default, maximum)
    start = (page - 1) * per_page
    total_pages = max(1, math.ceil(len(items) / per_page)) if items else 0
    return list(items[start : start + per_page]), {
        "currentPage": page,
        "totalPages": total_pages,
        "count": len(items),
    }
