"""envvars, schedules, queues, waitpoints, deployments, batches and idempotency keys against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_trigger.client import (
    EnvVar,
    NotFoundError,
    TriggerClient,
    hash_key,
)
from airflow_provider_trigger.emulator import EmulatorServer


@pytest.mark.parametrize("which", ["client", "pat_client"])
def test_envvars_full_cycle_with_secret_key_or_pat(
    which: str, request: pytest.FixtureRequest, emulator: EmulatorServer
) -> None:
    c: TriggerClient = request.getfixturevalue(which)
    ref = emulator.project_ref
    assert c.envvars.create(ref, "dev", "API_URL", "https://a").success
    assert c.envvars.retrieve(ref, "dev", "API_URL") == EnvVar(
        name="API_URL", value="https://a", is_secret=False
    )
    assert c.envvars.update(ref, "dev", "API_URL", "https://b").success
    assert c.envvars.retrieve(ref, "dev", "API_URL").value == "https://b"
    c.envvars.upload(ref, "dev", {"A": "1", "B": "2"}, override=True)
    assert emulator.requests.all()[-1].json == {"variables": {"A": "1", "B": "2"}, "override": True}
    names = {v.name for v in c.envvars.list(ref, "dev")}
    assert {"API_URL", "A", "B"} <= names
    assert c.envvars.delete(ref, "dev", "A").success
    with pytest.raises(NotFoundError):
        c.envvars.retrieve(ref, "dev", "A")


def test_envvar_update_of_missing_variable_is_not_found(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(NotFoundError):
        client.envvars.update(emulator.project_ref, "dev", "NOPE", "x")


def test_secret_envvar_value_is_redacted_in_list(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.envvars.create(emulator.project_ref, "dev", "TOKEN", "s3cret", is_secret=True)
    assert emulator.requests.all()[-1].json == {"name": "TOKEN", "value": "s3cret", "isSecret": True}
    listed = {v.name: v for v in client.envvars.list(emulator.project_ref, "dev")}
    assert listed["TOKEN"].is_secret and listed["TOKEN"].value != "s3cret"


def test_envvar_names_are_encoded(client: TriggerClient, emulator: EmulatorServer) -> None:
    with pytest.raises(NotFoundError):
        client.envvars.retrieve(emulator.project_ref, "dev", "MY VAR")
    request = emulator.requests.all()[-1]
    assert request.path == f"/api/v1/projects/{emulator.project_ref}/envvars/dev/MY VAR"


def test_schedules_full_cycle(client: TriggerClient, emulator: EmulatorServer) -> None:
    created = client.schedules.create(
        task="hello-world",
        cron="0 9 * * *",
        deduplication_key="daily",
        external_id="u1",
        timezone="Europe/Paris",
    )
    assert emulator.requests.all()[-1].json == {
        "task": "hello-world",
        "cron": "0 9 * * *",
        "deduplicationKey": "daily",
        "externalId": "u1",
        "timezone": "Europe/Paris",
    }
    assert created.generator is not None and created.generator.expression == "0 9 * * *"
    again = client.schedules.create(task="hello-world", cron="0 10 * * *", deduplication_key="daily")
    assert again.id == created.id  # same deduplication key updates
    assert client.schedules.retrieve(created.id).generator.expression == "0 10 * * *"  # type: ignore[union-attr]
    updated = client.schedules.update(created.id, task="hello-world", cron="*/5 * * * *")
    assert "deduplicationKey" not in emulator.requests.all()[-1].json
    assert updated.generator and updated.generator.expression == "*/5 * * * *"
    assert not client.schedules.deactivate(created.id).active
    assert client.schedules.activate(created.id).active
    assert client.schedules.delete(created.id).id == created.id
    with pytest.raises(NotFoundError):
        client.schedules.retrieve(created.id)


def test_queues(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", {})
    page = client.queues.list(per_page=10)
    assert page.data
    queue = client.queues.retrieve({"type": "task", "name": "hello-world"})
    request = emulator.requests.all()[-1]
    assert request.query == {"type": "task"}
    assert client.queues.retrieve(queue.id).id == queue.id
    assert client.queues.pause(queue.id).paused
    assert emulator.requests.all()[-1].json == {"type": "id", "action": "pause"}
    assert not client.queues.resume({"type": "task", "name": "hello-world"}).paused
    overridden = client.queues.override_concurrency_limit(queue.id, 3)
    assert emulator.requests.all()[-1].json == {"type": "id", "concurrencyLimit": 3}
    assert overridden.concurrency_limit == 3
    client.queues.reset_concurrency_limit(queue.id)
    assert emulator.requests.all()[-1].json == {"type": "id"}


def test_queue_names_with_slashes_are_double_encoded(scripted: object) -> None:
    scripted.add(200, {"id": "queue_1", "name": "task/a b"})  # type: ignore[attr-defined]
    TriggerClient("tr_dev_x", base_url=scripted.base_url).queues.retrieve(  # type: ignore[attr-defined]
        {"type": "custom", "name": "team/a b"}
    )
    assert scripted.received[0]["path"] == "/api/v1/queues/team%252Fa%20b?type=custom"  # type: ignore[attr-defined]


def test_waitpoint_tokens(client: TriggerClient, emulator: EmulatorServer) -> None:
    token = client.waitpoints.create_token(
        idempotency_key="approve-1", idempotency_key_ttl="1h", timeout="10m", tags="review"
    )
    assert emulator.requests.all()[-1].json == {
        "idempotencyKey": "approve-1",  # raw, not hashed, as the SDK does
        "idempotencyKeyTTL": "1h",
        "timeout": "10m",
        "tags": ["review"],
    }
    assert token.id.startswith("waitpoint_") and not token.is_cached
    assert client.waitpoints.create_token(idempotency_key="approve-1").is_cached
    assert client.waitpoints.retrieve_token(token.id).status == "WAITING"
    assert [t.id for t in client.waitpoints.list_tokens(status="WAITING", tags=["review"])] == [token.id]
    assert client.waitpoints.complete_token(token.id, {"approved": True}).success
    done = client.waitpoints.retrieve_token(token.id)
    assert done.status == "COMPLETED" and done.output is not None and "approved" in done.output


def test_waitpoint_timeout_datetime_is_iso(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.waitpoints.create_token(timeout=datetime(2031, 1, 1, tzinfo=UTC))
    assert emulator.requests.all()[-1].json == {"timeout": "2031-01-01T00:00:00.000Z"}


def test_deployments_current(client: TriggerClient, emulator: EmulatorServer) -> None:
    emulator.state.add_deployment("20260101.9")
    current = client.deployments.retrieve_current()
    assert current.id.startswith("deployment_")
    client.deployments.list(status="DEPLOYED", period="7d")
    assert emulator.requests.all()[-1].query == {"status": "DEPLOYED", "period": "7d"}


def test_batches_retrieve_and_results(client: TriggerClient) -> None:
    result = client.tasks.batch_trigger("hello-world", [{"payload": 1}, {"payload": 2}])
    processed = client.batches.wait_until_processed(result.id, timeout=30)
    batch = client.batches.retrieve(result.id)
    assert batch.id == result.id and batch.run_count == 2 and batch.runs == processed.run_ids
    assert len(processed.run_ids) == 2
    assert client.batches.results(result.id).id == result.id


def test_idempotency_key_reset_lets_the_key_trigger_again(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    first = client.tasks.trigger("hello-world", {}, idempotency_key="k")
    client.idempotency_keys.reset("k", task_identifier="hello-world")
    request = emulator.requests.all()[-1]
    assert request.path == f"/api/v1/idempotencyKeys/{hash_key(['k'])}/reset"
    assert request.json == {"taskIdentifier": "hello-world"}
    second = client.tasks.trigger("hello-world", {}, idempotency_key="k")
    assert second.id != first.id and not second.is_cached


def test_idempotency_key_reset_unknown_is_not_found(client: TriggerClient) -> None:
    with pytest.raises(NotFoundError):
        client.idempotency_keys.reset("never-used", task_identifier="hello-world")
