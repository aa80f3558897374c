"""Credentials, environment configuration, headers on the wire, and misuse refused before sending."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_trigger import __version__
from airflow_provider_trigger.client import (
    AuthenticationError,
    KeyKind,
    TriggerClient,
    TriggerClientError,
    key_kind,
)
from airflow_provider_trigger.emulator import EmulatorServer


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("tr_dev_abc", KeyKind.SECRET),
        ("tr_stg_abc", KeyKind.SECRET),
        ("tr_prod_abc", KeyKind.SECRET),
        ("tr_preview_abc", KeyKind.SECRET),
        ("tr_prod_sk_" + "a" * 24, KeyKind.SECRET),
        ("tr_pat_abc", KeyKind.PAT),
        ("tr_uat_abc", KeyKind.PAT),
    ],
)
def test_key_kind_by_prefix(key: str, kind: KeyKind) -> None:
    assert key_kind(key) is kind


@pytest.mark.parametrize("key", ["", "   ", "sk_live_secretvalue123", "tr_oops_secretvalue123"])
def test_unrecognised_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(TriggerClientError) as info:
        key_kind(key)
    if key.strip():
        assert key not in str(info.value)


def test_key_and_url_read_from_environment(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("TRIGGER_SECRET_KEY", emulator.secret_key)
    monkeypatch.setenv("TRIGGER_API_URL", emulator.base_url + "/")
    client = TriggerClient()
    assert client.base_url == emulator.base_url
    assert client.key_kind is KeyKind.SECRET
    client.tasks.trigger("hello-world", {"x": 1})
    assert emulator.requests.all()[-1].headers["authorization"] == f"Bearer {emulator.secret_key}"


def test_access_token_used_when_no_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIGGER_ACCESS_TOKEN", "tr_pat_fromenv")
    assert TriggerClient().key_kind is KeyKind.PAT


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIGGER_SECRET_KEY", raising=False)
    monkeypatch.delenv("TRIGGER_ACCESS_TOKEN", raising=False)
    with pytest.raises(TriggerClientError, match="TRIGGER_SECRET_KEY"):
        TriggerClient()


def test_default_base_url_is_the_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIGGER_API_URL", raising=False)
    assert TriggerClient("tr_dev_x").base_url == "https://api.trigger.dev"


def test_branch_from_environment_is_sent(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    monkeypatch.setenv("TRIGGER_PREVIEW_BRANCH", "feature-x")
    client = TriggerClient(emulator.secret_key, base_url=emulator.base_url)
    assert client.preview_branch == "feature-x"
    client.schedules.timezones()
    assert emulator.requests.all()[-1].headers["x-trigger-branch"] == "feature-x"


def test_no_branch_header_without_a_branch(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", None)
    assert "x-trigger-branch" not in emulator.requests.all()[-1].headers


def test_preview_key_without_branch_refused_before_sending(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    for name in ("TRIGGER_PREVIEW_BRANCH", "VERCEL_GIT_COMMIT_REF", "TRIGGER_DEV_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    client = TriggerClient(emulator.keys["preview"], base_url=emulator.base_url)
    with pytest.raises(TriggerClientError, match="preview_branch"):
        client.runs.retrieve("run_x")
    assert len(emulator.requests) == 0


def test_headers_on_the_wire(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", {"x": 1})
    headers = emulator.requests.all()[-1].headers
    assert headers["authorization"] == f"Bearer {emulator.secret_key}"
    assert headers["content-type"] == "application/json"
    assert headers["x-trigger-api-version"] == "2025-07-16"
    assert headers["x-trigger-source"] == "sdk"
    assert headers["user-agent"] == f"airflow-provider-trigger/{__version__}"
    uuid.UUID(headers["x-trigger-request-idempotency-key"])


def test_each_logical_call_gets_a_fresh_request_key(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.tasks.trigger("hello-world", {"x": 1})
    client.tasks.trigger("hello-world", {"x": 2})
    keys = {r.headers["x-trigger-request-idempotency-key"] for r in emulator.requests.all()}
    assert len(keys) == 2


def test_pat_on_secret_key_route_refused_before_sending(
    pat_client: TriggerClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(TriggerClientError, match="secret key") as info:
        pat_client.runs.retrieve("run_123")
    assert emulator.pat not in str(info.value)
    with pytest.raises(TriggerClientError):
        pat_client.tasks.trigger("hello-world", {})
    assert len(emulator.requests) == 0


def test_pat_runs_list_without_project_ref_names_the_fix(
    pat_client: TriggerClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(TriggerClientError, match="project_ref"):
        pat_client.runs.list()
    assert len(emulator.requests) == 0


def test_secret_key_on_pat_route_refused_before_sending(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(TriggerClientError, match="personal access token"):
        client.runs.list(project_ref=emulator.project_ref, env="dev")
    assert len(emulator.requests) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.tasks.trigger("", {}),
        lambda c: c.tasks.trigger("  ", {}),
        lambda c: c.tasks.trigger("hello-world", {"when": object()}),
        lambda c: c.tasks.trigger("hello-world", float("nan")),
        lambda c: c.tasks.trigger("hello-world", {}, colour="red"),
        lambda c: c.envvars.list("proj_x", "production"),
        lambda c: c.runs.retrieve(""),
        lambda c: c.runs.list(env="dev"),
        lambda c: c.runs.list(status="COMPLETED", colour="red"),
        lambda c: c.runs.bulk.cancel(),
        lambda c: c.runs.bulk.cancel(filter={"status": "FAILED"}, run_ids=["run_1"]),
        lambda c: c.runs.bulk.cancel(filter={"tag": ""}),
        lambda c: c.queues.retrieve({"type": "weird", "name": "q"}),
        lambda c: c.queues.override_concurrency_limit("queue_1", -1),
        lambda c: c.tasks.batch_trigger("hello-world", []),
        lambda c: c.tasks.batch_trigger("hello-world", [{"payload": 1, "opts": {}}]),
        lambda c: c.envvars.upload("proj_x", "dev", {"A": 1}),
        lambda c: c.schedules.create(task="t", cron="", deduplication_key="d"),
    ],
)
def test_bad_input_refused_before_sending(
    client: TriggerClient, emulator: EmulatorServer, call: object
) -> None:
    with pytest.raises(TriggerClientError):
        call(client)  # type: ignore[operator]
    assert len(emulator.requests) == 0


def test_repr_and_errors_never_show_the_key(client: TriggerClient, emulator: EmulatorServer) -> None:
    assert emulator.secret_key not in repr(client)
    assert emulator.secret_key not in str(client)
    bad = TriggerClient("tr_dev_wrongwrongwrong", base_url=emulator.base_url)
    with pytest.raises(AuthenticationError) as info:
        bad.runs.retrieve("run_x")
    assert "tr_dev_wrongwrongwrong" not in str(info.value)
    assert "tr_dev_wrongwrongwrong" not in repr(info.value)
    assert "tr_dev_wrongwrongwrong" not in repr(bad)


def test_with_options_copy_shares_the_pool_and_keeps_the_original(client: TriggerClient) -> None:
    copy = client.with_options(timeout=3.0, extra_headers={"x-extra": "1"})
    assert copy is not client
    assert copy._transport.session is client._transport.session
    assert client._config.options.timeout != 3.0
    assert copy._config.options.timeout == 3.0


def test_extra_headers_are_sent(client: TriggerClient, emulator: EmulatorServer) -> None:
    client.with_options(extra_headers={"x-extra": "yes"}).schedules.timezones()
    assert emulator.requests.all()[-1].headers["x-extra"] == "yes"


def test_timezones_sent_without_authorization(client: TriggerClient, emulator: EmulatorServer) -> None:
    zones = client.schedules.timezones(exclude_utc=True)
    assert "UTC" not in zones and zones
    request = emulator.requests.all()[-1]
    assert "authorization" not in request.headers
    assert request.query == {"excludeUtc": "true"}
