"""Client test fixtures: clients pointed at the real emulator, with retry sleeps recorded, not slept.

``scripted`` is a tiny real HTTP server answering a script of responses, for the few wire cases
the emulator cannot produce (HTML error pages, truncated bodies, ``x-should-retry: false``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_trigger.client import AsyncTriggerClient, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer


@pytest.fixture
def sleeps() -> list[float]:
    """Every retry wait the client asked for, in seconds."""
    return []


@pytest.fixture
def client(emulator: EmulatorServer, sleeps: list[float]) -> Iterator[TriggerClient]:
    with TriggerClient(emulator.secret_key, base_url=emulator.base_url, sleep=sleeps.append) as c:
        yield c


@pytest.fixture
def pat_client(emulator: EmulatorServer, sleeps: list[float]) -> Iterator[TriggerClient]:
    with TriggerClient(emulator.pat, base_url=emulator.base_url, sleep=sleeps.append) as c:
        yield c


@pytest.fixture
async def async_client(emulator: EmulatorServer, sleeps: list[float]) -> AsyncIterator[AsyncTriggerClient]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncTriggerClient(emulator.secret_key, base_url=emulator.base_url, sleep=record) as c:
        yield c


@dataclass
class Scripted:
    """Responses to serve in order (the last one repeats) and the requests received."""

    base_url: str
    responses: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def add(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.responses.append((status, headers or {}, raw))


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    script = Scripted("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self._read_body()
            script.received.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            status, headers, raw = (
                script.responses.pop(0) if len(script.responses) > 1 else script.responses[0]
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() != "chunked":
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)

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
