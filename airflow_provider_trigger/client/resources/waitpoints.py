"""``client.waitpoints``: waitpoint tokens (create, list, retrieve, complete)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import (
    ApiRequest,
    PageRequest,
    comma,
    epoch_ms,
    iso,
    query,
    segment,
)
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.models import CreatedWaitpointToken, Success, WaitpointToken
from airflow_provider_trigger.client.models._base import parser

_BASE = "/api/v1/waitpoints/tokens"


class Waitpoints(Resource[M]):
    @endpoint
    def create_token(
        self,
        *,
        idempotency_key: str | None = None,
        idempotency_key_ttl: str | None = None,
        timeout: str | datetime | None = None,
        tags: str | Sequence[str] | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[CreatedWaitpointToken]:
        """Create a token; ``idempotency_key`` is sent raw (not hashed), as the SDK does."""
        body = drop_unset(
            {
                "idempotencyKey": idempotency_key,
                "idempotencyKeyTTL": idempotency_key_ttl,
                "timeout": iso(timeout),
                "tags": [tags] if isinstance(tags, str) else list(tags) if tags is not None else None,
            }
        )
        return ApiRequest("POST", _BASE, parser(CreatedWaitpointToken), body=body, options=request_options)

    @paginated
    def list_tokens(
        self,
        *,
        status: str | Sequence[str] | None = None,
        idempotency_key: str | None = None,
        tags: str | Sequence[str] | None = None,
        period: str | None = None,
        from_: datetime | int | str | None = None,
        to: datetime | int | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[WaitpointToken]:
        q = query(
            **{
                "filter[status]": comma(status),
                "filter[idempotencyKey]": idempotency_key,
                "filter[tags]": comma(tags),
                "filter[createdAt][period]": period,
                "filter[createdAt][from]": epoch_ms(from_),
                "filter[createdAt][to]": epoch_ms(to),
                "page[size]": limit,
                "page[after]": after,
                "page[before]": before,
            }
        )
        return PageRequest(
            ApiRequest("GET", _BASE, dict, query=q, options=request_options), parser(WaitpointToken)
        )

    @endpoint
    def retrieve_token(
        self, token_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[WaitpointToken]:
        path = f"{_BASE}/{segment(token_id, 'token_id')}"
        return ApiRequest("GET", path, parser(WaitpointToken), options=request_options)

    @endpoint
    def complete_token(
        self, token_id: str, data: Any = None, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Success]:
        """Complete a token with ``data`` (any JSON value; it becomes the waiting run's output)."""
        path = f"{_BASE}/{segment(token_id, 'token_id')}/complete"
        return ApiRequest(
            "POST", path, parser(Success), body=drop_unset({"data": data}), options=request_options
        )
