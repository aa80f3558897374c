"""Every request the emulator received, readable from Python and over ``/_emulator/requests``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # None when the connection was dropped
    fault: str | None = None
    time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "json": self.json,
            "status": self.status,
            "fault": self.fault,
            "time": self.time,
        }


class RequestLog:
    """Thread-safe, append-only list of :class:`RecordedRequest` (control routes are not logged)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def filter(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Requests matching a method and/or a path prefix."""
        return [
            r
            for r in self.all()
            if (method is None or r.method == method.upper()) and (path is None or r.path.startswith(path))
        ]

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> RecordedRequest:
        with self._lock:
            return self._items[index]
