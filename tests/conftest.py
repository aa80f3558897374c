"""Shared fixtures: an isolated Airflow home and a real emulator server on 127.0.0.1.

Airflow reads its configuration when first imported, so the environment is set here, at import time,
before any test module imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
_DAGS_FOLDER = _AIRFLOW_HOME / "dags"
_DAGS_FOLDER.mkdir()
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(_DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)
for _name in [n for n in os.environ if n.startswith(("AIRFLOW_CONN_", "TRIGGER_"))]:
    del os.environ[_name]

from airflow_provider_trigger.emulator import EmulatorServer  # noqa: E402

#: The task ids the tests trigger, deployed on the session's emulator (which behaves as production:
#: any other id waits in PENDING_VERSION until its TTL). A test of that uses an id not listed here.
TEST_TASKS = (
    "a", "agent", "b", "c", "d", "echo", "good", "group/task", "hello", "hello-world", "ingest", "later",
    "many", "now", "opts", "other", "p", "page", "perf-batch", "perf-list", "q", "reliability", "resize",
    "scoped", "solo", "something-else", "t", "u", "x", "daily-digest", "sync-crm",
)  # fmt: skip


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def dags_folder() -> Path:
    """The configured dags folder: ``dag.test()`` needs the DAG file to live inside it."""
    return _DAGS_FOLDER


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the throw-away SQLite metadata DB once per test session."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(tasks=TEST_TASKS) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session's emulator with fresh state, faults and request log for each test."""
    emulator_server.reset()
    yield emulator_server
    emulator_server.reset()


@pytest.fixture
def no_list_lag(emulator: EmulatorServer) -> None:
    """Opt out of the runs list's replica lag (production: ClickHouse trails retrieve by about a second).

    For tests about list filters, pagination or what a list shows, not about the lag itself (which
    tests/emulator/test_production.py covers): they list runs right after triggering them.
    """
    emulator.state.config.list_lag = 0.0
