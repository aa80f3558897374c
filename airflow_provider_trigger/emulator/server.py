"""``EmulatorServer``: the emulator app served by uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from types import TracebackType

import uvicorn

from .app import create_app
from .faults import FaultInjector
from .models import TaskBehaviour
from .requestlog import RequestLog
from .state import EmulatorConfig, EmulatorState


class EmulatorServer:
    """A real HTTP server on ``host:port`` (port 0 = a free port), usable as a context manager.

    It behaves as production Trigger.dev does: only ``tasks`` (ids or :class:`TaskBehaviour`) and
    ``queues`` are deployed (other tasks wait in PENDING_VERSION until their TTL), rate limits are on,
    batches are processed after sealing. ``lenient=True`` restores the kinder test behaviour.

    >>> with EmulatorServer() as emu:
    ...     requests.get(f"{emu.base_url}/api/v1/runs", headers={"Authorization": f"Bearer {emu.secret_key}"})
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: EmulatorState | None = None,
        config: EmulatorConfig | None = None,
        tasks: Iterable[str | TaskBehaviour] = (),
        queues: Iterable[str] = (),
        lenient: bool = False,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        if lenient:
            config = replace(config or EmulatorConfig(), lenient=True)
        self.state = state or EmulatorState(config, tasks=tasks, queues=queues)
        self.app = create_app(self.state)
        self._sock: socket.socket | None = None
        self._requested_port = port
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._log_level = log_level

    # ----- public surface -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def secret_key(self) -> str:
        """The default project's dev secret key."""
        return self.state.secret_key

    @property
    def keys(self) -> dict[str, str]:
        """Secret keys by environment: ``dev``, ``staging``, ``prod``, ``preview``."""
        return dict(self.state.keys)

    @property
    def pat(self) -> str:
        return self.state.pat

    @property
    def project_ref(self) -> str:
        return self.state.project_ref

    @property
    def faults(self) -> FaultInjector:
        return self.state.faults

    @property
    def requests(self) -> RequestLog:
        return self.state.requests

    def run_url(self, run_id: str) -> str:
        return f"{self.base_url}/runs/{run_id}"

    def reset(self) -> None:
        """Clear runs, env vars, schedules, queues, faults, the request log and task behaviours."""
        self.state.reset()

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        if self._thread is not None:
            return self
        self.state.stopping = False
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(1024)
        self._sock, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            limit_concurrency=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="trigger-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.state.stopping = True
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(base_url={self.base_url!r})"
