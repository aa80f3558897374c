"""Small value types: the ``omit`` sentinel, retry and per-call request options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

Auth = Literal["secret", "pat", "any", "none"]
"""Which credential a route accepts: a secret key, a PAT, either, or no auth at all."""


class _Omit:
    """Marks an argument as not given, so it is left out of the request (``None`` stays sendable)."""

    _instance: _Omit | None = None

    def __new__(cls) -> _Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "omit"


omit: Final = _Omit()
Omit = _Omit


def drop_unset(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the given values: ``None`` and ``omit`` mean "not set" and are never sent."""
    return {k: v for k, v in values.items() if v is not None and v is not omit}


@dataclass(frozen=True, slots=True)
class RetryOptions:
    """Retry settings, in seconds (the SDK's ApiClient defaults). ``max_attempts=1`` disables retries.

    The delay after failed attempt *n* is ``min(max_timeout, min_timeout * factor ** (n - 1))``,
    times a random factor in [1, 2) when ``randomize`` is true.
    """

    max_attempts: int = 5
    factor: float = 1.6
    min_timeout: float = 1.0
    max_timeout: float = 30.0
    randomize: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryOptions.max_attempts must be at least 1 (1 disables retries)")
        if self.min_timeout < 0 or self.max_timeout < 0 or self.factor <= 0:
            raise ValueError("RetryOptions timeouts must be >= 0 and factor > 0")


NO_RETRY: Final = RetryOptions(max_attempts=1)


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call overrides: retry policy, timeout (seconds) and extra headers."""

    retry: RetryOptions | None = None
    timeout: float | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")

    def merged(self, other: RequestOptions | None) -> RequestOptions:
        """``other`` wins where it sets something; headers are combined."""
        if other is None:
            return self
        return replace(
            self,
            retry=other.retry or self.retry,
            timeout=other.timeout if other.timeout is not None else self.timeout,
            extra_headers={**self.extra_headers, **other.extra_headers},
        )
