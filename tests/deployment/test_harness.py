"""The harness itself (fast, in the normal suite): failures name the component, processes are stopped."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from ._postgres import Postgres
from ._processes import Component, ComponentFailed


def test_a_component_that_dies_at_start_is_named_with_its_log_tail(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('cannot bind 127.0.0.1:8080', flush=True); raise SystemExit(3)"]
    component = Component("api-server", argv, env=dict(os.environ), log=tmp_path / "api-server.log").start()

    with pytest.raises(ComponentFailed) as failed:
        component.wait_until(lambda: False, "healthy", timeout=30)

    message = str(failed.value)
    assert message.startswith("api-server exited with code 3 before healthy")
    assert "cannot bind 127.0.0.1:8080" in message
    component.stop()


def test_a_component_that_never_gets_ready_is_named_too(tmp_path: Path) -> None:
    argv = [
        sys.executable,
        "-c",
        "import time; print('waiting for the database', flush=True); time.sleep(60)",
    ]
    component = Component("scheduler", argv, env=dict(os.environ), log=tmp_path / "scheduler.log").start()
    try:
        with pytest.raises(ComponentFailed, match=r"scheduler was not heartbeating after 1 s") as failed:
            component.wait_until(lambda: False, "heartbeating", timeout=1)
        assert "waiting for the database" in str(failed.value)
    finally:
        component.stop(grace=5)
    assert not component.alive()


def test_stop_ends_the_whole_process_group_even_when_stopped(tmp_path: Path) -> None:
    child = "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    code = f"import subprocess, sys, time; {child}; time.sleep(60)"
    component = Component(
        "triggerer-1", [sys.executable, "-c", code], env=dict(os.environ), log=tmp_path / "t.log"
    )
    component.start()
    component.signal(signal.SIGSTOP)  # a stalled triggerer
    component.stop(grace=5)

    assert not component.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(component.pid, 0)  # nothing of its group is left


def test_postgres_from_the_wheel_serves_on_loopback_and_stops(tmp_path: Path) -> None:
    postgres = Postgres(tmp_path, dict(os.environ)).start()
    try:
        assert postgres.psql("show listen_addresses").strip() == "127.0.0.1"
        assert postgres.psql("select 1", "airflow").strip() == "1"
    finally:
        postgres.stop()
    assert not postgres.alive()
