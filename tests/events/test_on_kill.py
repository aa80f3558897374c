"""``on_kill`` of a deferred wait, invoked by Airflow's own TriggerRunner on a user action."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.hooks import close_async_clients
from airflow_provider_trigger.triggers import TriggerBatchTrigger, TriggerRunTrigger
from tests.airflow_compat import needs_airflow_3_3
from tests.events.conftest import Triggerer, wait_until
from tests.task_states import task_state

pytestmark = needs_airflow_3_3("Trigger on_kill (canceling the run when a deferred task is killed)")


@pytest.fixture
def started(emulator: EmulatorServer) -> list[str]:
    """Two runs that would go on for a long time."""
    emulator.state.set_task(TaskBehaviour("ingest", duration=300))
    with TriggerClient(api_key=emulator.secret_key, base_url=emulator.base_url) as client:
        return [str(client.tasks.trigger("ingest", {"n": n}).id) for n in range(2)]


@pytest.fixture
async def triggerer() -> AsyncIterator[Triggerer]:
    triggerer = Triggerer()
    yield triggerer
    await close_async_clients()


async def polling(emulator: EmulatorServer, run_id: str) -> None:
    await wait_until(
        lambda: bool(emulator.requests.filter("GET", f"/api/v3/runs/{run_id}")), "a status check"
    )


def cancels(emulator: EmulatorServer) -> list[str]:
    return [r.path.split("/")[4] for r in emulator.requests.filter("POST") if r.path.endswith("/cancel")]


async def test_user_action_cancels_the_run(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    await triggerer.start(1, TriggerRunTrigger(started[0], poll_interval=0.05, wait_mode="poll"), task="w")
    await polling(emulator, started[0])

    with task_state("failed"):  # a person marked the deferred task failed in the UI
        await triggerer.stop(1, user_action=True)

    assert emulator.state.run_status(started[0]) == "CANCELED"
    assert emulator.state.run_status(started[1]) != "CANCELED"


async def test_reassignment_to_another_triggerer_leaves_the_run_alone(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    """Airflow cancels a trigger the DB gave to another triggerer (HA, after a missed heartbeat) with
    the same "user action" message; the task instance is still deferred, so the run goes on."""
    await triggerer.start(6, TriggerRunTrigger(started[0], poll_interval=0.05, wait_mode="poll"), task="w")
    await polling(emulator, started[0])

    with task_state("deferred") as supervisor:
        await triggerer.stop(6, user_action=True)

    assert supervisor.asked, "on_kill asked for the task's state"
    assert cancels(emulator) == []


async def test_triggerer_shutdown_leaves_the_run_alone(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    await triggerer.start(2, TriggerRunTrigger(started[0], poll_interval=0.05, wait_mode="poll"))
    await polling(emulator, started[0])

    await triggerer.stop(2)  # a deploy or restart: another triggerer picks the wait up

    assert cancels(emulator) == []


async def test_cancel_on_kill_off_leaves_the_run_alone(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    trigger = TriggerRunTrigger(started[0], poll_interval=0.05, wait_mode="poll", cancel_on_kill=False)
    assert trigger.serialize()[1]["cancel_on_kill"] is False
    await triggerer.start(3, trigger, task="w")
    await polling(emulator, started[0])

    with task_state("failed"):
        await triggerer.stop(3, user_action=True)

    assert cancels(emulator) == []


async def test_user_action_cancels_every_unfinished_run_of_a_batch(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    await triggerer.start(4, TriggerBatchTrigger(started, poll_interval=0.05, wait_mode="poll"), task="w")
    await polling(emulator, started[1])

    with task_state(None):  # a person cleared the deferred task
        await triggerer.stop(4, user_action=True)

    assert sorted(cancels(emulator)) == sorted(started)
    assert {emulator.state.run_status(r) for r in started} == {"CANCELED"}


async def test_a_cancel_that_fails_is_logged_not_raised(
    emulator: EmulatorServer, started: list[str], triggerer: Triggerer
) -> None:
    emulator.faults.inject("POST", "/api/v2/runs/*/cancel", kind=503, count=None)
    await triggerer.start(5, TriggerRunTrigger(started[0], poll_interval=0.05, wait_mode="poll"), task="w")
    await polling(emulator, started[0])

    with task_state("success"):
        await triggerer.stop(5, user_action=True)

    assert emulator.state.run_status(started[0]) != "CANCELED"
    assert cancels(emulator)  # it tried
