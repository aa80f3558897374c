"""``RawResponse``: the parsed result together with the HTTP status and headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawResponse(Generic[T]):
    """What ``client.with_raw_response.<resource>.<method>(...)`` returns.

    ``parsed`` (also ``data`` / ``parse()``) is what the plain call would have returned.
    """

    status_code: int
    headers: Mapping[str, str]
    parsed: T
    method: str
    url: str
    retries_taken: int
    request_idempotency_key: str

    @property
    def data(self) -> T:
        return self.parsed

    def parse(self) -> T:
        return self.parsed

    def with_parsed(self, parsed: T) -> RawResponse[T]:
        return RawResponse(
            self.status_code,
            self.headers,
            parsed,
            self.method,
            self.url,
            self.retries_taken,
            self.request_idempotency_key,
        )
