"""Child processes of the deployment harness: started in their own session, stopped by PID, logs kept."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO


class ComponentFailed(RuntimeError):
    """A component of the deployment did not start (or died); names it and shows its log tail."""

    def __init__(self, name: str, why: str, log: Path) -> None:
        self.name = name
        super().__init__(f"{name} {why}; last lines of {log}:\n{log_tail(log)}")


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log written)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Component:
    """One started process. Its process group is its own (``start_new_session``), so a signal sent to
    it reaches the children it forked (the triggerer's trigger runner, the scheduler's workers) and
    nothing else."""

    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str], log: Path, **popen: object):
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log = log
        self._popen_kwargs = popen
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> Component:
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._popen_kwargs,
        )
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the component's process group (its PID is the group's id)."""
        if self.alive():
            os.killpg(self.pid, sig)

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll ``ready`` until true; a dead process or a timeout raises :class:`ComponentFailed`."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise ComponentFailed(self.name, f"exited with code {code} before {what}", self.log)
            try:
                if ready():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise ComponentFailed(self.name, f"was not {what} after {timeout:.0f} s", self.log)
            time.sleep(0.5)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group (after SIGCONT, in case a test stopped it), SIGKILL after ``grace``."""
        if self.proc is None:
            return
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGCONT)
                os.killpg(self.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # The leader may be gone while children of its group live on: kill what is left of the group.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
