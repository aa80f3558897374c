"""Helpers for the emulator's own tests: a thin ``requests`` wrapper bound to the ``emulator`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_trigger.emulator import EmulatorServer, ManualClock

API_VERSION = {"x-trigger-api-version": "2025-07-16"}


class Api:
    """Real HTTP against the emulator with a chosen bearer token (dev secret key by default)."""

    def __init__(self, emu: EmulatorServer, token: str | None, headers: dict[str, str] | None = None) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.headers = {**API_VERSION, **(headers or {})}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, self.emu.base_url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def trigger(self, task: str = "hello", payload: Any = None, **options: Any) -> str:
        body: dict[str, Any] = {"payload": payload}
        if options:
            body["options"] = options
        response = self.post(f"/api/v1/tasks/{task}/trigger", json=body)
        assert response.status_code == 200, response.text
        run_id: str = response.json()["id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v3/runs/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[Api]:
    client = Api(emulator, emulator.secret_key)
    yield client
    client.session.close()


@pytest.fixture
def clock(emulator: EmulatorServer) -> ManualClock:
    """Drive the run lifecycle by hand: ``clock.advance(seconds)``."""
    manual = ManualClock()
    emulator.state.clock = manual
    return manual
