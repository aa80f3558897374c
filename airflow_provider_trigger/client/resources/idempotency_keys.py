"""``idempotency_keys``: reset a key so the same key can start a new run."""

from __future__ import annotations

from airflow_provider_trigger.client._executor import M, Resource, endpoint
from airflow_provider_trigger.client._idempotency import IdempotencyKey, make_key
from airflow_provider_trigger.client._request import ApiRequest, segment
from airflow_provider_trigger.client._types import RequestOptions
from airflow_provider_trigger.client.models import (
    IdResponse,
)
from airflow_provider_trigger.client.models._base import parser


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


__all__ = ["IdempotencyKeys"]
