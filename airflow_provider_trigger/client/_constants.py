"""Defaults shared by the sync and async clients."""

from __future__ import annotations

from airflow_provider_trigger import __version__

DEFAULT_BASE_URL = "https://api.trigger.dev"
API_VERSION = "2025-07-16"
SDK_VERSION = "4.5.12"
USER_AGENT = f"airflow-provider-trigger/{__version__}"
DEFAULT_TIMEOUT = 60.0
MAX_RATE_LIMIT_WAIT = 120.0
"""Upper bound (seconds) on a wait derived from ``x-ratelimit-reset`` (guards against a bad header)."""

REQUEST_IDEMPOTENCY_HEADER = "x-trigger-request-idempotency-key"
