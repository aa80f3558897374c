"""The async client never has more than ``pool_size`` requests in flight; the rest wait their turn."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_trigger.client import AsyncTriggerClient


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    in_flight = 0
    most_in_flight = 0
    served = 0
    lock = threading.Lock()


@pytest.fixture
def slow_server() -> Iterator[_SlowServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # a run that is still executing, answered slowly
            server = self.server
            assert isinstance(server, _SlowServer)
            with server.lock:
                server.in_flight += 1
                server.most_in_flight = max(server.most_in_flight, server.in_flight)
            time.sleep(0.05)
            body = json.dumps({"id": self.path.rsplit("/", 1)[-1], "status": "EXECUTING"}).encode()
            with server.lock:
                server.in_flight -= 1
                server.served += 1
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _SlowServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_concurrent_calls_beyond_the_pool_wait_for_a_slot(slow_server: _SlowServer) -> None:
    url = f"http://127.0.0.1:{slow_server.server_address[1]}"
    async with AsyncTriggerClient("tr_dev_gatetest", base_url=url, pool_size=3) as client:
        runs = await asyncio.gather(*(client.runs.retrieve(f"run_{n}") for n in range(12)))

    assert [run.id for run in runs] == [f"run_{n}" for n in range(12)]
    assert slow_server.served == 12
    assert slow_server.most_in_flight <= 3
