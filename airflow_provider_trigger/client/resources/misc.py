"""Small resources: ``deployments``, ``batches``, ``idempotency_keys``."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._idempotency import IdempotencyKey, make_key
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, iso, query, segment
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.models import ApiObject, Batch, BatchResults, Deployment, IdResponse
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


class Batches(Resource[M]):
    @endpoint
    def retrieve(self, batch_id: str, *, request_options: RequestOptions | None = None) -> ApiRequest[Batch]:
        """A batch and its run ids (``GET /api/v2/batches/{id}``; a 404 is retried as the server asks)."""
        path = f"/api/v2/batches/{segment(batch_id, 'batch_id')}"
        return ApiRequest("GET", path, parser(Batch), options=request_options)

    @endpoint
    def results(
        self, batch_id: str, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[BatchResults]:
        path = f"/api/v1/batches/{segment(batch_id, 'batch_id')}/results"
        return ApiRequest("GET", path, parser(BatchResults), options=request_options)


class IdempotencyKeys(Resource[M]):
    @endpoint
    def reset(
        self, key: IdempotencyKey, *, task_identifier: str, request_options: RequestOptions | None = None
    ) -> ApiRequest[IdResponse]:
        """Forget ``key`` for ``task_identifier`` so the next trigger with it starts a new run.

        ``key`` is hashed as ``trigger`` hashes it (a 64-char key is used as is).
        """
        hashed, _ = make_key(key)
        body = {"taskIdentifier": segment(task_identifier, "task_identifier") and task_identifier}
        path = f"/api/v1/idempotencyKeys/{segment(hashed or '', 'key')}/reset"
        return ApiRequest("POST", path, parser(IdResponse), body=body, options=request_options)


__all__ = ["ApiObject", "Batches", "Deployments", "IdempotencyKeys"]
