"""``client.queues``: list, inspect, pause/resume and override concurrency of queues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_trigger.client._executor import M, Resource, endpoint, paginated
from airflow_provider_trigger.client._request import ApiRequest, PageRequest, query, queue_segment
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.errors import TriggerClientError
from airflow_provider_trigger.client.models import Queue
from airflow_provider_trigger.client.models._base import parser

QueueParam = str | Mapping[str, str]
_queue = parser(Queue)


def _queue_ref(queue: QueueParam) -> tuple[str, str]:
    """(encoded path segment, type): a ``queue_…`` id, or ``{"type": "task"|"custom", "name": …}``."""
    if isinstance(queue, str):
        return queue_segment(queue, "queue"), "id"
    kind, name = queue.get("type"), queue.get("name")
    if kind not in ("task", "custom") or not isinstance(name, str):
        raise TriggerClientError('queue must be a queue_… id or {"type": "task" | "custom", "name": ...}')
    return queue_segment(name, "queue name"), kind


def _post(
    queue: QueueParam, suffix: str, body: dict[str, Any], options: RequestOptions | None
) -> ApiRequest[Queue]:
    seg, kind = _queue_ref(queue)
    return ApiRequest(
        "POST", f"/api/v1/queues/{seg}{suffix}", _queue, body={"type": kind, **body}, options=options
    )


class Queues(Resource[M]):
    @paginated
    def list(
        self,
        *,
        page: int | None = None,
        per_page: int | None = None,
        request_options: RequestOptions | None = None,
    ) -> PageRequest[Queue]:
        q = query(page=page, perPage=per_page)
        return PageRequest(
            ApiRequest("GET", "/api/v1/queues", dict, query=q, options=request_options), _queue, "offset"
        )

    @endpoint
    def retrieve(
        self, queue: QueueParam, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Queue]:
        seg, kind = _queue_ref(queue)
        return ApiRequest(
            "GET", f"/api/v1/queues/{seg}", _queue, query={"type": kind}, options=request_options
        )

    @endpoint
    def pause(self, queue: QueueParam, *, request_options: RequestOptions | None = None) -> ApiRequest[Queue]:
        return _post(queue, "/pause", {"action": "pause"}, request_options)

    @endpoint
    def resume(
        self, queue: QueueParam, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Queue]:
        return _post(queue, "/pause", {"action": "resume"}, request_options)

    @endpoint
    def override_concurrency_limit(
        self, queue: QueueParam, limit: int, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Queue]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 100_000:
            raise TriggerClientError("limit must be an integer between 0 and 100000")
        return _post(queue, "/concurrency/override", {"concurrencyLimit": limit}, request_options)

    @endpoint
    def reset_concurrency_limit(
        self, queue: QueueParam, *, request_options: RequestOptions | None = None
    ) -> ApiRequest[Queue]:
        return _post(queue, "/concurrency/reset", {}, request_options)
