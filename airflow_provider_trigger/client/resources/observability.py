"""Errors and query: ``errors`` (error groups of a project's runs) and ``query`` (SQL over runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, iso, query, segment
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.models import ApiObject, QueryResult, TaskErrorGroup
from airflow_provider_trigger.client.models._base import parser

_error = parser(TaskErrorGroup)
_object = parser(ApiObject)


class Errors(Resource[M]):
    """Error groups (``error_…``) of the environment."""

    @paginated
    def list(
        self,
        *,
        task_identifier: str | None = None,
        version: str | None = None,
        status: Literal["unresolved", "resolved", "ignored"] | None = None,
        search: str | None = None,
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[TaskErrorGroup]:
        q = query(
            **{
                "filter[taskIdentifier]": task_identifier,
                "filter[version]": version,
                "filter[status]": status,
                "filter[search]": search,
                "filter[period]": period,
                "filter[from]": iso(from_),
                "filter[to]": iso(to),
                "page[size]": limit,
                "page[after]": after,
                "page[before]": before,
            }
        )
        return PageRequest(
            ApiRequest("GET", "/api/v1/errors", dict, query=q, options=request_options), _error
        )

    @endpoint
    def retrieve(
        self, error_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[TaskErrorGroup]:
        return ApiRequest(
            "GET", f"/api/v1/errors/{segment(error_id, 'error_id')}", _error, options=request_options
        )

    @endpoint
    def resolve(
        self,
        error_id: str,
        *,
        resolved_in_version: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[TaskErrorGroup]:
        path = f"/api/v1/errors/{segment(error_id, 'error_id')}/resolve"
        body = drop_unset({"resolvedInVersion": resolved_in_version})
        return ApiRequest("POST", path, _error, body=body, options=request_options)

    @endpoint
    def ignore(
        self,
        error_id: str,
        *,
        duration_ms: int | None = None,
        occurrence_rate: int | None = None,
        total_occurrences: int | None = None,
        reason: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[TaskErrorGroup]:
        path = f"/api/v1/errors/{segment(error_id, 'error_id')}/ignore"
        body = drop_unset(
            {
                "duration": duration_ms,
                "occurrenceRate": occurrence_rate,
                "totalOccurrences": total_occurrences,
                "reason": reason,
            }
        )
        return ApiRequest("POST", path, _error, body=body, options=request_options)

    @endpoint
    def unresolve(
        self, error_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[TaskErrorGroup]:
        path = f"/api/v1/errors/{segment(error_id, 'error_id')}/unresolve"
        return ApiRequest("POST", path, _error, options=request_options)


class Query(Resource[M]):
    @endpoint
    def execute(
        self,
        query: str,
        *,
        scope: Literal["environment", "project", "organization"] = "environment",
        period: str | None = None,
        from_: datetime | str | None = None,
        to: datetime | str | None = None,
        format: Literal["json", "csv"] = "json",
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[QueryResult]:
        """Run a TRQL query; ``results`` is a list of rows (json) or a string (csv)."""
        body = drop_unset(
            {
                "query": segment(query, "query") and query,
                "scope": scope,
                "period": period,
                "from": iso(from_),
                "to": iso(to),
                "format": format,
            }
        )
        return ApiRequest("POST", "/api/v1/query", parser(QueryResult), body=body, options=request_options)

    @endpoint
    def schema(self, *, request_options: RequestOptions | None = None) -> ApiRequest[ApiObject]:
        return ApiRequest("GET", "/api/v1/query/schema", _object, options=request_options)

    @endpoint
    def dashboards(self, *, request_options: RequestOptions | None = None) -> ApiRequest[ApiObject]:
        return ApiRequest("GET", "/api/v1/query/dashboards", _object, options=request_options)
