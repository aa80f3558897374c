"""Small parsers the server applies to request values: durations, dates, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .errors import ApiError

_UNITS = {"w": 604800, "d": 86400, "hr": 3600, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(\d+(?:w|d|hr|h|m|s))+$")
_PART = re.compile(r"(\d+)(w|d|hr|h|m|s)")


def duration_seconds(text: str) -> float | None:
    """``"1h30m"`` → 5400.0; ``None`` when ``text`` is not a duration."""
    text = text.strip()
    if not _DURATION.match(text):
        return None
    return float(sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))


def parse_date(text: str) -> float | None:
    """An ISO date/time (``Z`` allowed) → epoch seconds, or ``None``."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def delay_until(value: str, now: float) -> float | None:
    """The server's ``parseDelay``: a duration from now or an absolute date."""
    seconds = duration_seconds(value)
    if seconds is not None:
        return now + seconds
    return parse_date(value)


def ttl_seconds(value: str | int | float | None) -> int | None:
    """``options.ttl``: seconds or a duration string; 0 disables."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ApiError(400, "Validation error: Invalid ttl")
    if isinstance(value, int | float):
        return int(value) or None
    seconds = duration_seconds(value)
    if seconds is None:
        raise ApiError(400, f'Validation error: Invalid ttl "{value}"')
    return int(seconds) or None


def key_ttl_seconds(value: str | None, default: float = 30 * 86400) -> float:
    """``idempotencyKeyTTL``: ``\\d+[smhd]``; anything else keeps the default (as the server does)."""
    if value and re.fullmatch(r"\d+[smhd]", value.strip()):
        return duration_seconds(value.strip()) or default
    return default


def int_param(raw: str | None, name: str, *, minimum: int = 1, maximum: int | None = None) -> int | None:
    """A positive integer query parameter, or a 400 ``Query Error``."""
    if raw is None or raw == "":
        return None
    try:
        number = int(raw)
    except ValueError:
        raise ApiError(
            400,
            "Query Error",
            details=[{"path": [name], "message": "Expected number, received nan"}],
        ) from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = (
            f"greater than or equal to {minimum}" if number < minimum else f"less than or equal to {maximum}"
        )
        raise ApiError(400, "Query Error", details=[{"path": [name], "message": f"Number must be {bound}"}])
    return number
