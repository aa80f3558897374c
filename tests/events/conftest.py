"""Fixtures for the event-driven parts: a real asset in the test DB and the triggerer's state-store path.

``asset_store`` gives a watcher what Airflow's triggerer gives it on 3.3: Airflow's own
``AssetStateStoreAccessors`` for the watched asset. Its requests go through ``SUPERVISOR_COMMS``, here an
:class:`InProcessSupervisor` that does what ``TriggerRunnerSupervisor._handle_request`` does with them
(the same request handlers, an in-process Execution API client, the real metadata DB), minus the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_trigger.emulator import EmulatorServer
from tests.task_runtime import connection_env


class InProcessSupervisor:
    """Answers a trigger's supervisor requests in this process, as the triggerer's supervisor would."""

    def __init__(self) -> None:
        from airflow.jobs.triggerer_job_runner import in_process_api_server
        from airflow.sdk.api.client import Client

        self.api = in_process_api_server()
        self.client = Client(base_url=None, token="", dry_run=True, transport=self.api.transport)
        self.client.base_url = "http://in-process.invalid./"  # type: ignore[assignment]
        self.requests: list[Any] = []

    def send(self, msg: Any) -> Any:
        self.requests.append(msg)
        kind = type(msg).__name__
        if kind == "MaskSecret":
            return None
        if kind in {"GetAssetStateStoreByName", "SetAssetStateStoreByName"}:  # Airflow 3.3+
            from airflow.sdk.execution_time import request_handlers

            if kind == "GetAssetStateStoreByName":
                return request_handlers.handle_get_asset_state_store_by_name(self.client, msg)[0]
            return request_handlers.handle_set_asset_state_store_by_name(self.client, msg)[0]
        raise NotImplementedError(f"{type(msg).__name__} is not served in these tests")

    async def asend(self, msg: Any) -> Any:
        return await asyncio.to_thread(self.send, msg)


def make_active_asset(name: str, uri: str) -> None:
    """An active asset row, as the DAG processor writes for an asset a DAG uses."""
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.query(AssetModel).filter_by(name=name).one_or_none() is None:
            asset = AssetModel(name=name, uri=uri, group="asset", extra={})
            session.add(asset)
            session.flush()
            session.add(AssetActive.for_asset(asset))


@pytest.fixture(autouse=True)
def trigger_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))


@pytest.fixture(scope="session")
def in_process_supervisor(airflow_db: Path) -> InProcessSupervisor:
    """Built once: the in-process Execution API takes seconds to start."""
    return InProcessSupervisor()


@pytest.fixture
def supervisor(in_process_supervisor: InProcessSupervisor) -> Iterator[InProcessSupervisor]:
    """``SUPERVISOR_COMMS`` for the test, as in a triggerer's runner process."""
    from airflow.sdk.execution_time.supervisor import set_supervisor_comms

    with set_supervisor_comms(in_process_supervisor):
        yield in_process_supervisor


class Triggerer:
    """Airflow's own ``TriggerRunner`` (the triggerer's async half), run in the test's event loop.

    ``start`` hands it a watcher workload the way the triggerer's supervisor does (encrypted kwargs,
    the watched assets); it builds a fresh trigger instance from them, injects the asset state store
    and runs it with ``run_trigger``. Events land in ``payloads``. ``stop()`` cancels as a triggerer
    shutdown does; ``stop(user_action=True)`` as a user marking the task does (which calls ``on_kill``).
    """

    def __init__(self) -> None:
        from airflow.jobs.triggerer_job_runner import TriggerRunner

        self.runner = TriggerRunner()

    async def start(
        self, trigger_id: int, trigger: Any, assets: dict[str, str] | None = None, *, task: str | None = None
    ) -> None:
        """``task``: the deferred task instance's task id (a wait trigger; watchers have none)."""
        from airflow.models.trigger import Trigger

        from tests.airflow_compat import run_trigger_workload, task_instance_workload

        ti = None if task is None else task_instance_workload(task)
        classpath, kwargs = trigger.serialize()
        self.runner.to_create.append(
            run_trigger_workload(trigger_id, classpath, Trigger.encrypt_kwargs(kwargs), assets, ti)
        )
        await self.runner.create_triggers()
        assert trigger_id in self.runner.triggers, "the triggerer refused the trigger"

    def instance(self, trigger_id: int) -> Any:
        return self.runner.triggers[trigger_id]["task"]

    @property
    def events(self) -> list[tuple[int, Any]]:
        """``(trigger id, TriggerEvent)`` of every event so far (3.3 queues records, older minors tuples)."""
        return [
            (entry.trigger_id, entry.event) if hasattr(entry, "event") else tuple(entry)
            for entry in self.runner.events
        ]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [dict(event.payload) for _, event in self.events]

    async def stop(self, trigger_id: int, *, user_action: bool = False) -> None:
        if user_action:
            from airflow.jobs.triggerer_job_runner import _USER_ACTION_CANCEL_MSG

            assert _USER_ACTION_CANCEL_MSG  # the message cancel_triggers() sends for a user action (3.3+)
            self.runner.to_cancel.append(trigger_id)
            await self.runner.cancel_triggers()
        else:
            self.runner.triggers[trigger_id]["task"].cancel()
        await asyncio.gather(self.runner.triggers[trigger_id]["task"], return_exceptions=True)
        del self.runner.triggers[trigger_id]


async def wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
