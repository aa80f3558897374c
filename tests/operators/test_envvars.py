"""TriggerEnvVarsSyncOperator against the emulator, with real Airflow Connections."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_trigger.emulator import EmulatorServer
from airflow_provider_trigger.operators.envvars import EnvVarSyncError, TriggerEnvVarsSyncOperator

ENVVARS = "/api/v1/projects/"


def _use_connection(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, **extra: Any) -> None:
    password = extra.pop("password", emulator.secret_key)
    conn = {
        "conn_type": "trigger",
        "host": emulator.base_url,
        "password": password,
        "extra": {"project_ref": emulator.project_ref, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", json.dumps(conn))


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    _use_connection(monkeypatch, emulator)
    return emulator


def _sync(**kwargs: Any) -> dict[str, list[str]]:
    return TriggerEnvVarsSyncOperator(task_id="sync_env", **kwargs).execute({})  # type: ignore[arg-type]


def _server_vars(emulator: EmulatorServer, env: str = "dev") -> dict[str, Any]:
    with emulator.state.lock:
        stored = emulator.state.stores.envvars.get(emulator.state.env(env).id, {})
        return {name: (var.value, var.is_secret) for name, var in stored.items()}


def _writes(emulator: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET"]


def _reads(emulator: EmulatorServer) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "GET" and r.path.startswith(ENVVARS)]


def test_sync_from_dict_and_env_file_then_second_run_writes_nothing(
    conn: EmulatorServer, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=info\nREGION=eu-west-1\nFEATURE_X=on\n")
    conn.state.requests.clear()
    _sync(variables={"STALE": "1"})  # something to change and something to prune
    _sync(variables={"FEATURE_X": "old"}, env_file=None)
    conn.state.requests.clear()

    summary = _sync(
        env_file=str(env_file), variables={"FEATURE_X": "off", "API_URL": "https://x.test"}, prune=True
    )

    assert summary == {
        "added": ["API_URL", "LOG_LEVEL", "REGION"],
        "changed": ["FEATURE_X"],
        "removed": ["STALE"],
        "unchanged": [],
    }
    assert _server_vars(conn) == {
        "API_URL": ("https://x.test", False),
        "FEATURE_X": ("off", False),  # the dict wins over the .env file
        "LOG_LEVEL": ("info", False),
        "REGION": ("eu-west-1", False),
    }
    writes = _writes(conn)
    assert len(writes) == 2  # one import for adds + changes, one delete
    assert writes[0].endswith("/envvars/dev/import") and writes[1].startswith("DELETE")
    assert len(_reads(conn)) == 1

    conn.state.requests.clear()
    again = _sync(
        env_file=str(env_file), variables={"FEATURE_X": "off", "API_URL": "https://x.test"}, prune=True
    )
    assert again["unchanged"] == ["API_URL", "FEATURE_X", "LOG_LEVEL", "REGION"]
    assert again["added"] == again["changed"] == again["removed"] == []
    assert _writes(conn) == []
    assert len(_reads(conn)) == 1


def test_five_hundred_variables_cost_one_read_and_one_write(conn: EmulatorServer) -> None:
    variables = {f"VAR_{i:03d}": f"value-{i}" for i in range(500)}
    _sync(variables=variables)
    variables["VAR_042"] = "changed"
    conn.state.requests.clear()
    summary = _sync(variables=variables)
    assert summary["changed"] == ["VAR_042"] and len(summary["unchanged"]) == 499
    assert (len(_reads(conn)), len(_writes(conn))) == (1, 1)
    conn.state.requests.clear()
    _sync(variables=variables)
    assert (len(_reads(conn)), len(_writes(conn))) == (1, 0)


def test_dry_run_reports_the_plan_and_writes_nothing(conn: EmulatorServer) -> None:
    _sync(variables={"KEEP": "1", "OLD": "x"})
    conn.state.requests.clear()
    summary = _sync(variables={"KEEP": "2", "NEW": "y"}, prune=True, dry_run=True)
    assert summary == {"added": ["NEW"], "changed": ["KEEP"], "removed": ["OLD"], "unchanged": []}
    assert _writes(conn) == []
    assert _server_vars(conn) == {"KEEP": ("1", False), "OLD": ("x", False)}


def test_secrets_are_imported_separately_masked_and_never_logged(
    conn: EmulatorServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_value = "sk_live_5up3r-s3cr3t-value"
    caplog.set_level(logging.DEBUG)
    conn.state.requests.clear()
    summary = _sync(
        variables={
            "STRIPE_KEY": secret_value,
            "DB_PASSWORD": "pg-pass-123456",
            "PUBLIC_URL": "https://pub.test",
        },
        secret_names=["*_KEY", "DB_PASSWORD"],
    )
    assert summary["added"] == ["DB_PASSWORD", "PUBLIC_URL", "STRIPE_KEY"]
    assert _server_vars(conn) == {
        "DB_PASSWORD": ("pg-pass-123456", True),
        "PUBLIC_URL": ("https://pub.test", False),
        "STRIPE_KEY": (secret_value, True),
    }
    imports = [r.json for r in conn.requests if r.path.endswith("/import")]
    assert [(sorted(b["variables"]), b.get("isSecret")) for b in imports] == [
        (["PUBLIC_URL"], False),
        (["DB_PASSWORD", "STRIPE_KEY"], True),
    ]
    assert all(b["override"] is True for b in imports)
    captured = capsys.readouterr()
    task_log = captured.out + captured.err + caplog.text
    assert "STRIPE_KEY" in task_log  # names are logged …
    assert secret_value not in task_log and "pg-pass-123456" not in task_log  # … values never
    assert redact(secret_value) == "***"  # and the masker knows them, for any other log line


def test_existing_secrets_are_kept_unless_rewrite_is_asked(conn: EmulatorServer) -> None:
    _sync(variables={"TOKEN": "first-secret-value"}, secret_names="TOKEN")
    conn.state.requests.clear()
    summary = _sync(variables={"TOKEN": "rotated-secret-value"}, secret_names="TOKEN")
    assert summary["unchanged"] == ["TOKEN"]  # the API redacts secrets: nothing to compare against
    assert _writes(conn) == []
    summary = _sync(variables={"TOKEN": "rotated-secret-value"}, rewrite_secrets=True)
    assert summary["changed"] == ["TOKEN"]
    assert _server_vars(conn)["TOKEN"] == ("rotated-secret-value", True)  # still secret: never downgraded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variables": {"BAD-NAME": "x"}}, "BAD-NAME"),
        ({"variables": {"EMPTY": ""}}, "empty value"),
        ({"variables": {"TRIGGER_API_URL": "http://x"}}, "reserved"),
        ({"variables": {"A": "1"}, "environment": "production"}, "Unknown Trigger.dev environment"),
        ({"variables": {"A": "1"}, "environment": "prod"}, "secret key of the 'dev' environment"),
        ({"env_file": "/nonexistent/.env"}, "does not exist"),
        ({}, "Nothing to sync"),
    ],
)
def test_bad_input_fails_before_any_request(
    conn: EmulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    conn.state.requests.clear()
    with pytest.raises(ValueError, match=message):
        _sync(**kwargs)
    assert list(conn.requests) == []


def test_env_file_entry_without_value_is_refused(conn: EmulatorServer, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("GOOD=1\nMISSING\n")
    conn.state.requests.clear()
    with pytest.raises(ValueError, match="'MISSING': no value"):
        _sync(env_file=str(env_file))
    assert list(conn.requests) == []


def test_pat_writes_the_environment_given_as_argument(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    _use_connection(monkeypatch, emulator, password=emulator.pat)
    summary = _sync(variables={"FROM_PAT": "yes"}, environment="prod")
    assert summary["added"] == ["FROM_PAT"]
    assert _server_vars(emulator, "prod") == {"FROM_PAT": ("yes", False)}
    assert _server_vars(emulator, "dev") == {}


def test_partial_failure_reports_what_was_applied(conn: EmulatorServer) -> None:
    _sync(variables={"A": "1", "B": "2", "C": "3"})
    conn.faults.inject(method="DELETE", path="*/envvars/dev/C", kind=400, count=None)
    with pytest.raises(EnvVarSyncError) as info:
        _sync(variables={"A": "changed"}, prune=True)  # import A, delete B, delete C (fails)
    message = str(info.value)
    assert "Applied: A, B" in message
    assert "Not applied: C" in message
    assert "changed" not in message  # names only, never the value


def test_preview_branch_from_the_operator(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> None:
    _use_connection(monkeypatch, emulator, password=emulator.pat)
    summary = _sync(variables={"ON_BRANCH": "yes"}, environment="preview", preview_branch="feature-x")
    assert summary["added"] == ["ON_BRANCH"]
    branch_env = emulator.state.add_branch("preview", "feature-x")
    with emulator.state.lock:
        assert emulator.state.stores.envvars[branch_env.id]["ON_BRANCH"].value == "yes"
    assert {r.headers.get("x-trigger-branch") for r in emulator.requests} == {"feature-x"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environment": "preview"}, "needs a branch"),
        ({"environment": "preview", "preview_branch": "b", "prune": True}, "prune=True is not supported"),
    ],
)
def test_preview_misuse_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    _use_connection(monkeypatch, emulator, password=emulator.pat)
    with pytest.raises(ValueError, match=message):
        _sync(variables={"A": "1"}, **kwargs)
    assert list(emulator.requests) == []


def test_nothing_is_read_in_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_TRIGGER_DEFAULT", raising=False)
    op = TriggerEnvVarsSyncOperator(task_id="t", env_file="/does/not/exist.env", trigger_conn_id="nowhere")
    assert op.env_file == "/does/not/exist.env" and "hook" not in op.__dict__


def test_an_environment_the_project_lacks_fails_before_any_write(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    _use_connection(monkeypatch, emulator, password=emulator.pat, project_ref="proj_emulatorotherproject")
    with pytest.raises(ValueError, match="no 'staging' environment in project 'proj_emulatorotherproject'"):
        _sync(variables={"A": "1"}, environment="staging")
    assert [r.method for r in emulator.requests] == ["GET"]
