"""The server's error responses, raised from anywhere in a route and rendered by the app."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class ApiError(Exception):
    """An HTTP error with the exact JSON body the real server sends."""

    def __init__(
        self,
        status: int,
        error: str | None = None,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error or str(status))
        self.status = status
        self.body: Any = body if body is not None else {"error": error, **extra}
        self.headers = headers or {}


def not_found(message: str = "Not found", *, should_retry: bool | None = None) -> ApiError:
    headers = {} if should_retry is None else {"x-should-retry": "true" if should_retry else "false"}
    return ApiError(404, message, headers=headers)


def zod_message(exc: ValidationError) -> str:
    """A ``fromZodError(...).toString()`` style message naming each bad field."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f'{err["msg"]} at "{loc}"' if loc else err["msg"])
    return "Validation error: " + "; ".join(parts)


def issues(exc: ValidationError) -> list[dict[str, Any]]:
    """Zod-like ``issues`` for routes that return them."""
    return [{"code": e["type"], "message": e["msg"], "path": list(e["loc"])} for e in exc.errors()]
