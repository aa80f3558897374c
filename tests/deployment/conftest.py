"""One real deployment for the whole deployment suite (starting one takes about a minute).

Every test of ``test_chaos.py`` is marked ``deployment``: the normal run (``scripts/test``) deselects
them and ``scripts/deployment`` runs them (``test_harness.py`` is fast and runs in the normal suite).
Each chaos test gets the deployment back with both triggerers running, no emulator faults and the DAGs
it needs parsed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Deployment

DAG_IDS = [
    "chaos_deferred",
    "chaos_worker_wait",
    "chaos_on_event",
    "example_trigger_task",
    "example_trigger_deferrable",
    "example_asset_producer",
    "example_asset_consumer",
    "ingest_now",
    "transform",
    "example_trigger_deployment",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    chaos = Path(__file__).with_name("test_chaos.py")
    for item in items:
        if Path(str(item.fspath)) == chaos:
            item.add_marker(pytest.mark.deployment)
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(scope="session")
def deployment_session() -> Iterator[Deployment]:
    home = Path(tempfile.mkdtemp(prefix="airflow-deployment-"))
    with Deployment.start(home) as deployment:
        deployment.wait_for_dags(DAG_IDS)
        yield deployment


@pytest.fixture
def deployment(deployment_session: Deployment) -> Iterator[Deployment]:
    deployment_session.restore()
    yield deployment_session
    deployment_session.restore()
