"""Small resources: ``deployments``, ``batches``, ``idempotency_keys``."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_trigger.client._executor import Flow, M, Pause, Resource, endpoint, flow, paginated
from airflow_provider_trigger.client._idempotency import IdempotencyKey, make_key
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, iso, query, segment
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.errors import BatchProcessingTimeoutError, TriggerClientError
from airflow_provider_trigger.client.models import (
    ApiObject,
    Batch,
    BatchItemFailure,
    BatchResults,
    Deployment,
    IdResponse,
    ProcessedBatch,
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


DEFAULT_PROCESSING_TIMEOUT = 120.0
DEFAULT_PROCESSING_POLL = 0.5


def _failures(batch: Batch) -> list[BatchItemFailure]:
    extra = batch.processing.model_extra if batch.processing is not None else None
    errors = (extra or {}).get("errors") or []
    return [BatchItemFailure.model_validate(e) for e in errors if isinstance(e, dict)]


def wait_for_processing(
    batch_id: str, timeout: float, poll_interval: float, request_options: RequestOptions | None
) -> Flow[ProcessedBatch]:
    """Poll ``GET /api/v2/batches/{id}`` until item processing has ended (see ``Batch.processed``)."""
    if timeout < 0 or poll_interval <= 0:
        raise TriggerClientError("timeout must be >= 0 and poll_interval > 0")
    path = f"/api/v2/batches/{segment(batch_id, 'batch_id')}"
    retrieve = ApiRequest("GET", path, parser(Batch), options=request_options)
    started: float = yield Pause(0)
    while True:
        batch: Batch = yield retrieve
        if batch.processed:
            return ProcessedBatch(
                id=batch.id,
                status=str(batch.status),
                run_count=batch.run_count,
                run_ids=list(batch.runs),
                failures=_failures(batch),
            )
        now: float = yield Pause(0)
        if now - started >= timeout:
            raise BatchProcessingTimeoutError(batch_id, str(batch.status), timeout)
        yield Pause(min(poll_interval, max(0.0, timeout - (now - started))))


class Batches(Resource[M]):
    @flow
    def wait_until_processed(
        self,
        batch_id: str,
        *,
        timeout: float = DEFAULT_PROCESSING_TIMEOUT,
        poll_interval: float = DEFAULT_PROCESSING_POLL,
        request_options: RequestOptions | None = None,
    ) -> Flow[ProcessedBatch]:
        """Wait until the server has processed every item of a batch into a run; its run ids in item order.

        Production writes a v3 batch's run ids once, when item processing ends (seconds after the
        trigger call for large batches). Returns a ``ProcessedBatch`` (``run_ids``, ``failures`` for
        items that got no run, ``status``); raises ``BatchProcessingTimeoutError`` after ``timeout``
        seconds. Polls ``GET /api/v2/batches/{id}`` every ``poll_interval`` seconds.
        """
        return (yield from wait_for_processing(batch_id, timeout, poll_interval, request_options))

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
