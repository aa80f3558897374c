"""Typed Python client for the Trigger.dev v3 management API (no Airflow imports).

>>> from airflow_provider_trigger.client import TriggerClient
>>> client = TriggerClient(api_key="tr_dev_...")          # or TRIGGER_SECRET_KEY / TRIGGER_ACCESS_TOKEN
>>> handle = client.tasks.trigger("my-task", {"hello": "world"}, idempotency_key="order-42")
>>> run = client.runs.retrieve(handle.id)
>>> run.is_terminal, run.is_success
"""

from __future__ import annotations

from airflow_provider_trigger.client._client import AsyncTriggerClient, RawResponses, TriggerClient
from airflow_provider_trigger.client._executor import Async, AsyncRaw, Sync, SyncRaw
from airflow_provider_trigger.client._idempotency import batch_item_key, hash_key, make_key
from airflow_provider_trigger.client._keys import KeyKind, key_kind
from airflow_provider_trigger.client._response import RawResponse
from airflow_provider_trigger.client._types import NO_RETRY, Omit, RequestOptions, RetryOptions, omit
from airflow_provider_trigger.client.errors import (
    ApiConnectionError,
    APIError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchNotSealedError,
    BatchProcessingTimeoutError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PacketError,
    PermissionDeniedError,
    RateLimitError,
    TriggerClientError,
    TriggerError,
    UnprocessableEntityError,
)
from airflow_provider_trigger.client.models import *  # noqa: F403
from airflow_provider_trigger.client.models import __all__ as _model_names
from airflow_provider_trigger.client.pagination import (
    AsyncCursorPage,
    AsyncOffsetPage,
    AsyncPage,
    CursorPage,
    OffsetPage,
    SyncPage,
)
from airflow_provider_trigger.client.realtime import AsyncRunFeed, FeedState, RealtimeBackoff, RunFeed
from airflow_provider_trigger.client.resources._filters import RunFilter
from airflow_provider_trigger.client.resources._options import TriggerOptions

__all__ = [
    "NO_RETRY",
    "Async",
    "AsyncRaw",
    "RunFilter",
    "Sync",
    "SyncRaw",
    "TriggerOptions",
    "APIError",
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AsyncCursorPage",
    "AsyncOffsetPage",
    "AsyncPage",
    "AsyncRunFeed",
    "AsyncTriggerClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchNotSealedError",
    "BatchProcessingTimeoutError",
    "ConflictError",
    "CursorPage",
    "FeedState",
    "InternalServerError",
    "KeyKind",
    "NotFoundError",
    "OffsetPage",
    "Omit",
    "PacketError",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResponse",
    "RealtimeBackoff",
    "RawResponses",
    "RequestOptions",
    "RetryOptions",
    "RunFeed",
    "SyncPage",
    "TriggerClient",
    "TriggerClientError",
    "TriggerError",
    "UnprocessableEntityError",
    "batch_item_key",
    "hash_key",
    "key_kind",
    "make_key",
    "omit",
    *_model_names,
]
