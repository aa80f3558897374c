"""``batches``: retrieve, results, and waiting until a v3 batch's items became runs."""

from __future__ import annotations

from airflow_provider_trigger.client._executor import Flow, M, Pause, Resource, endpoint, flow
from airflow_provider_trigger.client._request import ApiRequest, segment
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.errors import BatchProcessingTimeoutError, TriggerClientError
from airflow_provider_trigger.client.models import (
    Batch,
    BatchItemFailure,
    BatchResults,
    ProcessedBatch,
)
from airflow_provider_trigger.client.models._base import parser

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


__all__ = ["Batches", "wait_for_processing"]
