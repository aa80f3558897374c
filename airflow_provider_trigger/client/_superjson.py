"""Reading superjson documents (``application/super+json`` packets): ``{"json": …, "meta"?: …}``.

``meta.values`` annotates paths of ``json`` whose JS type JSON cannot carry. Revived here:

- ``Date`` → timezone-aware ``datetime`` (UTC); ``bigint`` → ``int``; ``undefined`` → ``None``;
  ``NaN`` / ``Infinity`` / ``-Infinity`` → ``float``;
- ``map`` → ``dict`` (a list of ``[key, value]`` pairs when a key is not hashable);
- ``set`` → ``list`` (order kept; JS sets may hold objects, which a Python set cannot).

Kept as their JSON form: ``regexp`` (the ``/src/flags`` string), ``Error`` (``{name, message}``),
``URL`` (the string), ``symbol``, ``class`` instances, ``custom`` types and typed arrays (lists).
``meta.referentialEqualities`` is ignored: every occurrence is already an equal copy.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

_SIMPLE: dict[str, Callable[[Any], Any]] = {
    "undefined": lambda _: None,
    "bigint": lambda v: int(v),
    "NaN": lambda _: math.nan,
    "Infinity": lambda _: math.inf,
    "-Infinity": lambda _: -math.inf,
    "number": lambda v: float(v),
}


def _date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # "Invalid Date" and friends stay text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _map(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    try:
        return dict(value)
    except (TypeError, ValueError):
        return value


def _revive(annotation: Any, value: Any) -> Any:
    if isinstance(annotation, str):
        if annotation in _SIMPLE:
            try:
                return _SIMPLE[annotation](value)
            except (TypeError, ValueError):
                return value
        if annotation == "Date":
            return _date(value)
        if annotation == "map":
            return _map(value)
    return value  # set (already a list), regexp, Error, URL, class, symbol, custom, typed arrays


def parse_path(key: str) -> list[str]:
    """A superjson path: ``.``-separated, ``\\.`` and ``\\\\`` escaped."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(key):
        char = key[i]
        if char == "\\" and i + 1 < len(key):
            current.append(key[i + 1])
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _apply(root: list[Any], path: list[str], annotation: Any) -> None:
    """Replace the value at ``path`` (below ``root[0]``) by its revived form."""
    holder: Any = root
    key: Any = 0
    for part in path:
        holder = holder[key]
        key = int(part) if isinstance(holder, list) else part
    holder[key] = _revive(annotation, holder[key])


def _walk(root: list[Any], tree: Any, origin: list[str]) -> None:
    """superjson's ``traverse``: children first (their paths index the JSON form), then the node."""
    if not isinstance(tree, list) or not tree:
        return
    if len(tree) == 2 and isinstance(tree[1], Mapping):
        for key, child in tree[1].items():
            _walk(root, child, [*origin, *parse_path(key)])
    with contextlib.suppress(KeyError, IndexError, ValueError, TypeError):
        _apply(root, origin, tree[0])  # a path missing from ``json`` has nothing to revive


def deserialize(document: Any) -> Any:
    """The value a superjson document stands for (see the module docstring for the types revived)."""
    if not isinstance(document, Mapping) or "json" not in document:
        return document
    root = [document["json"]]
    meta = document.get("meta")
    values = meta.get("values") if isinstance(meta, Mapping) else None
    if isinstance(values, list):
        _walk(root, values, [])
    elif isinstance(values, Mapping):
        for key, tree in values.items():
            _walk(root, tree, parse_path(key))
    return root[0]
