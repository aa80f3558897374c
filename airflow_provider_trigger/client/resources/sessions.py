"""``sessions`` (long-lived task sessions) and ``prompts``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, epoch_ms, iso, query, segment
from airflow_provider_trigger.client._types import Omit, RequestOptions, drop_unset, omit
from airflow_provider_trigger.client.models import ApiObject, Prompt, Session
from airflow_provider_trigger.client.models._base import list_parser, parser

_session = parser(Session)
_object = parser(ApiObject)
Objects = list[ApiObject]


class Sessions(Resource[M]):
    @endpoint
    def start(
        self,
        *,
        type: str,
        task_identifier: str,
        trigger_config: Mapping[str, Any],
        external_id: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: datetime | str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Session]:
        """Start (or return the cached) session; ``trigger_config`` is sent as given (camelCase keys)."""
        body = drop_unset(
            {
                "type": type,
                "taskIdentifier": segment(task_identifier, "task_identifier") and task_identifier,
                "triggerConfig": dict(trigger_config),
                "externalId": external_id,
                "tags": list(tags) if tags is not None else None,
                "metadata": dict(metadata) if metadata is not None else None,
                "expiresAt": iso(expires_at),
            }
        )
        return ApiRequest("POST", "/api/v1/sessions", _session, body=body, options=request_options)

    @paginated
    def list(
        self,
        *,
        type: str | None = None,
        tag: str | None = None,
        task_identifier: str | None = None,
        external_id: str | None = None,
        status: str | None = None,
        period: str | None = None,
        from_: datetime | int | str | None = None,
        to: datetime | int | str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[Session]:
        """List sessions. Each filter takes one value (the server does not split comma lists)."""
        q = query(
            **{
                "filter[type]": type,
                "filter[tags]": tag,
                "filter[taskIdentifier]": task_identifier,
                "filter[externalId]": external_id,
                "filter[status]": status,
                "filter[createdAt][period]": period,
                "filter[createdAt][from]": epoch_ms(from_),
                "filter[createdAt][to]": epoch_ms(to),
                "page[size]": limit,
                "page[after]": after,
                "page[before]": before,
            }
        )
        return PageRequest(
            ApiRequest("GET", "/api/v1/sessions", dict, query=q, options=request_options), _session
        )

    @endpoint
    def retrieve(self, session: str, *, request_options: RequestOptions | None = None) -> ApiRequest[Session]:
        """By ``session_…`` id or by your external id."""
        return ApiRequest(
            "GET", f"/api/v1/sessions/{segment(session, 'session')}", _session, options=request_options
        )

    @endpoint
    def update(
        self,
        session: str,
        *,
        tags: Sequence[str] | Omit = omit,
        metadata: Mapping[str, Any] | Omit | None = omit,
        external_id: str | Omit | None = omit,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[Session]:
        """Change tags, metadata or external id; ``None`` clears metadata / external id."""
        body: dict[str, Any] = {}
        if not isinstance(tags, Omit):
            body["tags"] = list(tags)
        if not isinstance(metadata, Omit):
            body["metadata"] = dict(metadata) if metadata is not None else None
        if not isinstance(external_id, Omit):
            body["externalId"] = external_id
        path = f"/api/v1/sessions/{segment(session, 'session')}"
        return ApiRequest("PATCH", path, _session, body=body, options=request_options)

    @endpoint
    def close(
        self, session: str, *, reason: str | None = None, request_options: RequestOptions | None = None
    ) -> ApiRequest[Session]:
        path = f"/api/v1/sessions/{segment(session, 'session')}/close"
        return ApiRequest(
            "POST", path, _session, body=drop_unset({"reason": reason}), options=request_options
        )


def _data(body: Any) -> ApiObject:
    return ApiObject.model_validate(body.get("data", body) if isinstance(body, dict) else {})


class Prompts(Resource[M]):
    @endpoint
    def list(self, *, request_options: RequestOptions | None = None) -> ApiRequest[list[Prompt]]:
        return ApiRequest("GET", "/api/v1/prompts", list_parser(Prompt), options=request_options)

    @endpoint
    def retrieve(
        self,
        slug: str,
        *,
        label: str | None = None,
        version: int | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[ApiObject]:
        path = f"/api/v1/prompts/{segment(slug, 'slug')}"
        return ApiRequest(
            "GET", path, _data, query=query(label=label, version=version), options=request_options
        )

    @endpoint
    def resolve(
        self,
        slug: str,
        *,
        variables: Mapping[str, Any] | None = None,
        label: str | None = None,
        version: int | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[ApiObject]:
        body = drop_unset(
            {
                "variables": dict(variables) if variables is not None else None,
                "label": label,
                "version": version,
            }
        )
        path = f"/api/v1/prompts/{segment(slug, 'slug')}"
        return ApiRequest("POST", path, _data, body=body, options=request_options)

    @endpoint
    def versions(self, slug: str, *, request_options: RequestOptions | None = None) -> ApiRequest[Objects]:
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/versions"
        return ApiRequest("GET", path, list_parser(ApiObject), options=request_options)

    @endpoint
    def promote(
        self, slug: str, version: int, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[ApiObject]:
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/promote"
        return ApiRequest("POST", path, _object, body={"version": version}, options=request_options)

    @endpoint
    def create_override(
        self,
        slug: str,
        *,
        text_content: str,
        model: str | None = None,
        commit_message: str | None = None,
        source: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[ApiObject]:
        body = drop_unset(
            {"textContent": text_content, "model": model, "commitMessage": commit_message, "source": source}
        )
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/override"
        return ApiRequest("POST", path, _object, body=body, options=request_options)

    @endpoint
    def update_override(
        self,
        slug: str,
        *,
        text_content: str | None = None,
        model: str | None = None,
        commit_message: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiRequest[ApiObject]:
        body = drop_unset({"textContent": text_content, "model": model, "commitMessage": commit_message})
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/override"
        return ApiRequest("PUT", path, _object, body=body, options=request_options)

    @endpoint
    def remove_override(
        self, slug: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[ApiObject]:
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/override"
        return ApiRequest("DELETE", path, _object, options=request_options)

    @endpoint
    def reactivate_override(
        self, slug: str, version: int, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[ApiObject]:
        path = f"/api/v1/prompts/{segment(slug, 'slug')}/override/reactivate"
        return ApiRequest("POST", path, _object, body={"version": version}, options=request_options)
