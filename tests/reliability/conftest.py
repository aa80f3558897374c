"""Fixtures for the reliability suite: a tiny scripted HTTP server for answers the emulator never gives
(an HTML 502 from a proxy, truncated or non-JSON bodies, odd 4xx shapes), and the Airflow connection."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer
from tests.task_runtime import connection_env


@dataclass
class Proxy:
    """Answers every request with ``status``/``headers``/``body`` and records what it received."""

    base_url: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    received: list[tuple[str, str]] = field(default_factory=list)

    def answer(
        self, status: int, body: Any = b"", content_type: str = "application/json", **headers: str
    ) -> None:
        self.status, self.headers = status, {"content-type": content_type, **headers}
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    @property
    def writes(self) -> int:
        return sum(1 for method, _ in self.received if method != "GET")


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    script = Proxy()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    self.rfile.read(size + 2)
                self.rfile.readline()
            else:
                self.rfile.read(int(self.headers.get("content-length") or 0))
            script.received.append((self.command, self.path))
            self.send_response(script.status)
            for name, value in script.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(script.body)))
            self.end_headers()
            self.wfile.write(script.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    script.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield script
    server.shutdown()
    server.server_close()


@pytest.fixture
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> str:
    """``trigger_default`` → the emulator's dev key (fast retries), with the project ref set."""
    value = connection_env(emulator, project_ref=emulator.project_ref)
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", value)
    return value
