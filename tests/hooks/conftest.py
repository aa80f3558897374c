"""Fixtures for hook tests: real Airflow Connections through ``AIRFLOW_CONN_*`` environment variables."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

SetConn = Callable[[str, "dict[str, Any] | str"], None]


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> SetConn:
    """``set_conn(conn_id, value)``: a dict becomes the JSON form, a string is used as the URI form."""

    def _set(conn_id: str, value: dict[str, Any] | str) -> None:
        if isinstance(value, dict):
            value = json.dumps({"conn_type": "trigger", **value})
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)

    return _set
