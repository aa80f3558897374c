"""TriggerHook against the emulator over real HTTP, with real Airflow Connections."""

from __future__ import annotations

import logging
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import structlog.testing

from airflow_provider_trigger.client import AuthenticationError, InternalServerError, TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.hooks import TriggerHook
from tests.hooks.conftest import SetConn

RESOURCES = (
    "runs",
    "tasks",
    "envvars",
    "schedules",
    "queues",
    "waitpoints",
    "deployments",
    "batches",
    "idempotency_keys",
)


@pytest.fixture
def dev_conn(set_conn: SetConn, emulator: EmulatorServer) -> str:
    set_conn(
        "trigger_default",
        {
            "host": emulator.base_url,
            "password": emulator.secret_key,
            "extra": {"project_ref": emulator.project_ref},
        },
    )
    return "trigger_default"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_client_is_built_once_and_resources_delegate(dev_conn: str) -> None:
    hook = TriggerHook()
    assert isinstance(hook.client, TriggerClient)
    assert hook.client is hook.client
    assert hook.get_conn() is hook.client
    for name in RESOURCES:
        assert getattr(hook, name) is getattr(hook.client, name), name


def test_trigger_retrieve_and_run_url_through_the_hook(dev_conn: str, emulator: EmulatorServer) -> None:
    hook = TriggerHook()
    handle = hook.tasks.trigger("hello-world", {"n": 1})
    run = hook.runs.retrieve(handle.id)
    assert run.id == handle.id
    assert hook.run_url(run) == hook.run_url(run.id) == emulator.run_url(run.id)
    (sent,) = emulator.requests.filter(method="POST")
    assert sent.headers["authorization"] == f"Bearer {emulator.secret_key}"


def test_uri_form_reaches_the_emulator(set_conn: SetConn, emulator: EmulatorServer) -> None:
    port = urlsplit(emulator.base_url).port
    set_conn("trigger_uri", f"trigger://:{emulator.secret_key}@127.0.0.1:{port}")
    ok, message = TriggerHook(trigger_conn_id="trigger_uri").test_connection()
    assert ok, message
    assert emulator.base_url in message


def test_preview_branch_is_sent(set_conn: SetConn, emulator: EmulatorServer) -> None:
    extra = {"preview_branch": "feature-x"}
    set_conn(
        "trigger_preview", {"host": emulator.base_url, "password": emulator.keys["preview"], "extra": extra}
    )
    hook = TriggerHook(trigger_conn_id="trigger_preview")
    hook.runs.list(limit=1)
    (sent,) = emulator.requests.all()
    assert sent.headers["x-trigger-branch"] == "feature-x"
    assert hook.environment == "preview"


def test_worker_environment_does_not_add_a_branch(
    dev_conn: str, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIGGER_PREVIEW_BRANCH", "someone-elses-branch")
    TriggerHook().runs.list(limit=1)
    (sent,) = emulator.requests.all()
    assert "x-trigger-branch" not in sent.headers  # the connection, not the environment, decides


@pytest.mark.parametrize(("attempts", "requests_sent"), [(1, 1), (2, 2)])
def test_retry_extras_reach_the_client(
    set_conn: SetConn, emulator: EmulatorServer, attempts: int, requests_sent: int
) -> None:
    extra = {"retry_max_attempts": attempts, "retry_min_timeout": 0, "retry_max_timeout": 0}
    set_conn("trigger_retry", {"host": emulator.base_url, "password": emulator.secret_key, "extra": extra})
    emulator.faults.inject("GET", "/api/v1/runs", 500, count=1)
    hook = TriggerHook(trigger_conn_id="trigger_retry")
    if attempts == 1:
        with pytest.raises(InternalServerError):
            hook.runs.list(limit=1)
    else:
        hook.runs.list(limit=1)
    assert len(emulator.requests.filter(path="/api/v1/runs")) == requests_sent


# -- test_connection --------------------------------------------------------------------------------


def test_connection_ok_with_a_secret_key(dev_conn: str, emulator: EmulatorServer) -> None:
    ok, message = TriggerHook().test_connection()
    assert ok, message
    assert "dev environment" in message
    (sent,) = emulator.requests.all()
    assert (sent.path, sent.query.get("page[size]")) == ("/api/v1/runs", "1")


def test_connection_ok_with_a_pat(set_conn: SetConn, emulator: EmulatorServer) -> None:
    extra = {"project_ref": emulator.project_ref, "environment": "prod"}
    set_conn("trigger_pat", {"host": emulator.base_url, "password": emulator.pat, "extra": extra})
    ok, message = TriggerHook(trigger_conn_id="trigger_pat").test_connection()
    assert ok, message
    (sent,) = emulator.requests.all()
    assert sent.path == f"/api/v1/projects/{emulator.project_ref}/runs"
    assert sent.query["filter[env]"] == "prod"


def test_connection_pat_without_project_ref_sends_nothing(
    set_conn: SetConn, emulator: EmulatorServer
) -> None:
    set_conn("trigger_pat", {"host": emulator.base_url, "password": emulator.pat})
    ok, message = TriggerHook(trigger_conn_id="trigger_pat").test_connection()
    assert not ok
    assert "personal access token" in message and "project_ref" in message
    assert len(emulator.requests) == 0


def test_connection_rejected_key(set_conn: SetConn, emulator: EmulatorServer) -> None:
    wrong = "tr_dev_" + uuid.uuid4().hex
    set_conn("trigger_wrong", {"host": emulator.base_url, "password": wrong})
    ok, message = TriggerHook(trigger_conn_id="trigger_wrong").test_connection()
    assert not ok
    assert message.startswith("401: the key was rejected")
    assert wrong not in message
    assert len(emulator.requests) == 1  # a 401 is not retried


def test_connection_unknown_project(set_conn: SetConn, emulator: EmulatorServer) -> None:
    set_conn(
        "trigger_pat",
        {"host": emulator.base_url, "password": emulator.pat, "extra": {"project_ref": "proj_nope"}},
    )
    ok, message = TriggerHook(trigger_conn_id="trigger_pat").test_connection()
    assert not ok
    assert message.startswith("404") and "project_ref" in message


def test_connection_unreachable_host(set_conn: SetConn) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    set_conn("trigger_down", {"host": url, "password": "tr_dev_" + "a" * 20})
    ok, message = TriggerHook(trigger_conn_id="trigger_down").test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach {url}")


def test_connection_server_error_is_reported_once(dev_conn: str, emulator: EmulatorServer) -> None:
    emulator.faults.inject("GET", "/api/v1/runs", 503, count=1)
    ok, message = TriggerHook().test_connection()
    assert not ok
    assert "503" in message
    assert len(emulator.requests) == 1  # no retries: the person gets the answer at once


def test_connection_bad_settings_send_nothing(set_conn: SetConn, emulator: EmulatorServer) -> None:
    set_conn(
        "trigger_bad", {"host": emulator.base_url, "password": emulator.secret_key, "extra": {"timeout": 0}}
    )
    ok, message = TriggerHook(trigger_conn_id="trigger_bad").test_connection()
    assert not ok
    assert "'trigger_bad'" in message and "timeout" in message
    assert len(emulator.requests) == 0


def test_airflow_connection_test_connection_uses_the_hook(
    set_conn: SetConn, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.common.compat.sdk import Connection

    if not hasattr(Connection, "test_connection"):  # Airflow < 3.2: the API server's model has it
        from airflow.models.connection import Connection  # type: ignore[assignment]

    conn = Connection(
        conn_id="unsaved", conn_type="trigger", host=emulator.base_url, password=emulator.secret_key
    )
    # What the UI's "Test" button runs: the API server exports the form as a transient connection first
    monkeypatch.setenv("AIRFLOW_CONN_UNSAVED", conn.get_uri())
    ok, message = conn.test_connection()
    assert ok, message


# -- secrets ---------------------------------------------------------------------------------------


def test_key_is_masked_as_soon_as_it_is_read(
    set_conn: SetConn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.providers.common.compat.sdk import redact

    from tests.airflow_compat import secrets_masker

    key = "tr_prod_" + uuid.uuid4().hex  # never seen before by this process's masker
    set_conn("trigger_masked", f"trigger://:{key}@")
    hook = TriggerHook(trigger_conn_id="trigger_masked")
    assert redact(f"key={key}") == f"key={key}"

    _ = hook.settings
    assert redact(f"key={key}") == "key=***"

    masker = secrets_masker()
    if hasattr(type(masker), "mask_secrets_in_logs"):
        monkeypatch.setattr(type(masker), "mask_secrets_in_logs", True)
    else:  # Airflow 3.0: one switch in the settings (off in unit-test mode)
        monkeypatch.setattr("airflow.settings.MASK_SECRETS_IN_LOGS", True)
    caplog.handler.addFilter(masker)
    try:
        logging.getLogger("airflow.task").warning("a careless task logs %s", key)
    finally:
        caplog.handler.removeFilter(masker)
    assert "a careless task logs ***" in caplog.text
    assert key not in caplog.text


def test_key_never_in_hook_logs_or_errors(
    set_conn: SetConn, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = "tr_dev_" + uuid.uuid4().hex
    set_conn("trigger_wrong", {"host": emulator.base_url, "password": key})
    caplog.set_level(logging.DEBUG)
    hook = TriggerHook(trigger_conn_id="trigger_wrong")
    with structlog.testing.capture_logs() as events:
        hook.test_connection()
        with pytest.raises(AuthenticationError) as info:
            hook.runs.list(limit=1)
    assert key not in str(info.value) and key not in repr(info.value)
    assert all(key not in record.getMessage() for record in caplog.records)
    assert all(key not in str(event) for event in events)
    logged = [str(event["event"]) for event in events] + [r.getMessage() for r in caplog.records]
    assert any("Using Trigger.dev connection 'trigger_wrong'" in line for line in logged)
