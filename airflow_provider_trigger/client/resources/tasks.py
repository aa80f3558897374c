"""``client.tasks``: trigger one run, or a batch of runs (v3 two-phase batch with an NDJSON stream)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Unpack

from airflow_provider_trigger.client._executor import Flow, M, Resource, endpoint, flow
from airflow_provider_trigger.client._idempotency import IdempotencyKey, batch_item_key, make_key
from airflow_provider_trigger.client._request import ApiRequest, ndjson_lines, segment
from airflow_provider_trigger.client._types import RequestOptions, drop_unset
from airflow_provider_trigger.client.errors import BatchNotSealedError, TriggerClientError
from airflow_provider_trigger.client.models import (
    Batch,
    BatchItemsResult,
    BatchTriggerResult,
    CreatedBatch,
    TriggerResult,
)
from airflow_provider_trigger.client.models._base import parser
from airflow_provider_trigger.client.resources._options import TriggerOptions, trigger_options
from airflow_provider_trigger.client.resources.batches import DEFAULT_PROCESSING_POLL, wait_for_processing

MAX_BATCH_ITEMS = 1000


def _trigger_result(body: Any) -> TriggerResult:
    return TriggerResult.model_validate(body)


def _sealed(batch_id: str) -> Any:
    def parse(body: Any) -> BatchItemsResult:
        result = BatchItemsResult.model_validate(body)
        if not result.sealed:
            raise BatchNotSealedError(batch_id, body)  # retried by the policy, raised when exhausted
        return result

    return parse


class Tasks(Resource[M]):
    @endpoint
    def trigger(
        self,
        task_identifier: str,
        payload: Any = None,
        *,
        request_options: RequestOptions | None = None,
        **options: Unpack[TriggerOptions],
    ) -> ApiRequest[TriggerResult]:
        """Trigger one run of ``task_identifier``.

        ``payload`` is sent as JSON (``payloadType: application/json``): dicts, lists, numbers,
        booleans and strings alike. A ``str`` payload is sent as a JSON string, so the task
        receives that string (the TS SDK would send it as ``text/plain``). ``None`` sends no payload.
        ``idempotency_key`` is hashed as the SDK does (a 64-char key is sent as is).
        """
        path = f"/api/v1/tasks/{segment(task_identifier, 'task_identifier')}/trigger"
        body = drop_unset({"payload": payload, "options": trigger_options(options)})
        return ApiRequest("POST", path, _trigger_result, body=body, options=request_options)

    @flow
    def batch_trigger(
        self,
        task_identifier: str,
        items: Iterable[Mapping[str, Any]],
        *,
        idempotency_key: IdempotencyKey | None = None,
        idempotency_key_ttl: str | None = None,
        wait_until_processed: float | None = None,
        request_options: RequestOptions | None = None,
    ) -> Flow[BatchTriggerResult]:
        """Trigger up to 1,000 runs: ``POST /api/v3/batches`` then one NDJSON stream of the items.

        Each item is ``{"payload": …, "options": {…}}`` with options as for ``trigger``. An item
        without its own key gets ``hash([idempotency_key, index])``. A cached batch (same key)
        skips the stream. Returns at once with the batch id and run count, as the SDK does: the
        server writes run ids only once it has processed the items. ``wait_until_processed=<seconds>``
        waits for that (``batches.wait_until_processed``) and fills ``run_ids`` in item order.
        """
        segment(task_identifier, "task_identifier")
        lines = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or set(item) - {"payload", "options"}:
                raise TriggerClientError(f"batch item {index} must be a dict with 'payload' and 'options'")
            item_options = item.get("options") or {}
            inherited = batch_item_key(idempotency_key, index) if idempotency_key is not None else None
            if idempotency_key_ttl and "idempotency_key_ttl" not in item_options:
                item_options = {**item_options, "idempotency_key_ttl": idempotency_key_ttl}
            line = {"index": index, "task": task_identifier, "payload": item.get("payload")}
            lines.append(drop_unset({**line, "options": trigger_options(item_options, hashed_key=inherited)}))
        if not lines:
            raise TriggerClientError("batch_trigger needs at least one item")
        if len(lines) > MAX_BATCH_ITEMS:
            raise TriggerClientError(f"batch_trigger takes at most {MAX_BATCH_ITEMS} items, got {len(lines)}")
        key, key_options = make_key(idempotency_key)
        create_body = drop_unset(
            {
                "runCount": len(lines),
                "taskIdentifiers": [task_identifier],
                "idempotencyKey": key,
                "idempotencyKeyOptions": key_options,
            }
        )
        created: CreatedBatch = yield ApiRequest(
            "POST", "/api/v3/batches", parser(CreatedBatch), body=create_body, options=request_options
        )
        batch_path = f"/api/v2/batches/{segment(created.id, 'batch id')}"
        retrieve = ApiRequest("GET", batch_path, parser(Batch), options=request_options)
        batch: Batch | None = None
        if created.is_cached:
            # A cached batch may be one whose creation response was lost before its items were sent
            # (still PENDING): resend the stream then (items are deduplicated by index), else skip it.
            batch = yield retrieve
        if batch is None or (
            batch.status == "PENDING" and not batch.processed
        ):  # PENDING again once processed
            batch = None
            yield ApiRequest(
                "POST",
                f"/api/v3/batches/{segment(created.id, 'batch id')}/items",
                _sealed(created.id),
                stream=ndjson_lines(lines),
                content_type="application/x-ndjson",
                options=request_options,
            )
        run_ids: list[str] = []
        if wait_until_processed is not None:
            processed = yield from wait_for_processing(
                created.id, wait_until_processed, DEFAULT_PROCESSING_POLL, request_options
            )
            run_ids = processed.run_ids
        return BatchTriggerResult(
            id=created.id,
            run_count=created.run_count or len(lines),
            is_cached=created.is_cached,
            idempotency_key=created.idempotency_key,
            run_ids=run_ids,
        )
