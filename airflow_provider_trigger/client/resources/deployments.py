"""``deployments``."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, iso, query
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.models import (
    Deployment,
)
from airflow_provider_trigger.client.models._base import parser


class Deployments(Resource[M]):
    @paginated
    def list(
        self,
        *,
        status: str | None = None,
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[Deployment]:
        """Deployments, newest first; forward-only pagination (``cursor`` = a deployment id)."""
        q = query(
            status=status,
            period=period,
            **{"from": iso(from_), "to": iso(to), "page[size]": limit, "page[after]": cursor},
        )
        request: ApiRequest[dict[str, object]] = ApiRequest(
            "GET", "/api/v1/deployments", dict, query=q, options=request_options
        )
        return PageRequest(request, parser(Deployment), backward=False)

    @endpoint
    def retrieve_current(self, *, request_options: RequestOptions | None = None) -> ApiRequest[Deployment]:
        return ApiRequest("GET", "/api/v1/deployments/current", parser(Deployment), options=request_options)


__all__ = ["Deployments"]
