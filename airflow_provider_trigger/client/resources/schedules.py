"""``client.schedules``: imperative cron schedules (secret key), and the timezone list (no auth)."""

from __future__ import annotations

from typing import Any

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, query, segment
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.errors import TriggerClientError
from airflow_provider_trigger.client.models import IdResponse, Schedule
from airflow_provider_trigger.client.models._base import parser

_schedule = parser(Schedule)
Timezones = list[str]


def _path(schedule_id: str, suffix: str = "") -> str:
    return f"/api/v1/schedules/{segment(schedule_id, 'schedule_id')}{suffix}"


def _required(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TriggerClientError(f"{what} must be a non-empty string")
    return value


def _timezones(body: Any) -> Timezones:
    return list(body.get("timezones", [])) if isinstance(body, dict) else []


def _body(
    task: str, cron: str, external_id: str | None, timezone: str | None, window: str | None
) -> dict[str, Any]:
    """The fields create and update share (update takes no deduplication key)."""
    return drop_unset(
        {
            "task": _required(task, "task"),
            "cron": _required(cron, "cron"),
            "externalId": external_id,
            "timezone": timezone,
            "window": window,
        }
    )


class Schedules(Resource[M]):
    @endpoint
    def create(
        self,
        *,
        task: str,
        cron: str,
        deduplication_key: str,
        external_id: str | None = None,
        timezone: str | None = None,
        window: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Schedule]:
        """Create a schedule; the same ``deduplication_key`` again updates it instead."""
        body = _body(task, cron, external_id, timezone, window)
        body["deduplicationKey"] = _required(deduplication_key, "deduplication_key")
        return ApiRequest("POST", "/api/v1/schedules", _schedule, body=body, options=request_options)

    @paginated
    def list(
        self,
        *,
        page: int | None = None,
        per_page: int | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[Schedule]:
        q = query(page=page, perPage=per_page)
        return PageRequest(
            ApiRequest("GET", "/api/v1/schedules", dict, query=q, options=request_options),
            _schedule,
            "offset",
        )

    @endpoint
    def retrieve(
        self, schedule_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Schedule]:
        return ApiRequest("GET", _path(schedule_id), _schedule, options=request_options)

    @endpoint
    def update(
        self,
        schedule_id: str,
        *,
        task: str,
        cron: str,
        external_id: str | None = None,
        timezone: str | None = None,
        window: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Schedule]:
        body = _body(task, cron, external_id, timezone, window)
        return ApiRequest("PUT", _path(schedule_id), _schedule, body=body, options=request_options)

    @endpoint
    def activate(
        self, schedule_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Schedule]:
        return ApiRequest("POST", _path(schedule_id, "/activate"), _schedule, options=request_options)

    @endpoint
    def deactivate(
        self, schedule_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Schedule]:
        return ApiRequest("POST", _path(schedule_id, "/deactivate"), _schedule, options=request_options)

    @endpoint
    def delete(
        self, schedule_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[IdResponse]:
        return ApiRequest("DELETE", _path(schedule_id), parser(IdResponse), options=request_options)

    @endpoint
    def timezones(
        self, *, exclude_utc: bool = False, request_options: RequestOptions | None = None
    ) -> ApiRequest[Timezones]:
        """IANA timezone names a schedule accepts (sent without Authorization)."""
        q = {"excludeUtc": "true"} if exclude_utc else {}
        return ApiRequest(
            "GET", "/api/v1/timezones", _timezones, query=q, auth="none", options=request_options
        )
