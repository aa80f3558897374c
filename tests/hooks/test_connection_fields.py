"""How each field of a real Airflow Connection (JSON and URI forms) maps onto the hook's settings."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import KeyKind, RetryOptions
from airflow_provider_trigger.hooks import TriggerConnectionError, TriggerHook
from tests.hooks.conftest import SetConn

DEV = "tr_dev_" + "a1" * 10
PROD = "tr_prod_" + "b2" * 10
STG = "tr_stg_" + "c3" * 10
PREVIEW = "tr_preview_" + "d4" * 10
ADDITIONAL_PROD = "tr_prod_sk_" + "e5" * 12
PAT = "tr_pat_" + "f6" * 20


def settings_for(set_conn: SetConn, value: dict[str, object] | str, conn_id: str = "trigger_test"):
    set_conn(conn_id, value)
    return TriggerHook(trigger_conn_id=conn_id).settings


def test_defaults_and_class_attributes() -> None:
    hook = TriggerHook()
    assert hook.trigger_conn_id == "trigger_default"
    assert (TriggerHook.conn_name_attr, TriggerHook.default_conn_name) == (
        "trigger_conn_id",
        "trigger_default",
    )
    assert (TriggerHook.conn_type, TriggerHook.hook_name) == ("trigger", "Trigger.dev")


def test_nothing_is_read_in_init() -> None:
    hook = TriggerHook(trigger_conn_id="not_defined_anywhere")  # no error: the lookup is lazy
    assert "settings" not in hook.__dict__
    with pytest.raises(Exception, match="not_defined_anywhere"):
        _ = hook.settings


def test_uri_form_with_only_a_key_uses_trigger_cloud(set_conn: SetConn) -> None:
    s = settings_for(set_conn, f"trigger://:{DEV}@")
    assert s.api_key == DEV
    assert s.key_kind is KeyKind.SECRET
    assert s.base_url == "https://api.trigger.dev"
    assert s.dashboard_url == "https://cloud.trigger.dev"
    assert s.environment == "dev"
    assert (s.project_ref, s.preview_branch, s.timeout, s.retry) == (None, None, None, None)
    assert s.client_kwargs() == {"api_key": DEV, "base_url": "https://api.trigger.dev", "preview_branch": ""}


def test_uri_form_with_loopback_host_port_and_extras(set_conn: SetConn) -> None:
    s = settings_for(
        set_conn,
        f"trigger://:{DEV}@127.0.0.1:8030?project_ref=proj_abc&timeout=12.5"
        "&retry_max_attempts=2&retry_randomize=true&retry_min_timeout=0",
    )
    assert s.base_url == "http://127.0.0.1:8030"  # loopback without a scheme → http
    assert s.dashboard_url == "http://127.0.0.1:8030"  # self-hosted: same origin as the API
    assert s.project_ref == "proj_abc"
    assert s.timeout == 12.5
    assert s.retry == RetryOptions(max_attempts=2, randomize=True, min_timeout=0.0)
    assert s.client_kwargs()["retry"] == s.retry


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        (f"trigger://:{PROD}@trigger.example.com", "https://trigger.example.com"),
        (f"trigger://:{PROD}@trigger.example.com:8443/http", "http://trigger.example.com:8443"),
        (f"trigger://:{PROD}@localhost:3030/https", "https://localhost:3030"),
        (f"trigger://:{PROD}@localhost:3030", "http://localhost:3030"),
        (f"trigger://:{PROD}@[::1]:8030", "http://[::1]:8030"),
    ],
)
def test_uri_host_port_and_schema(set_conn: SetConn, uri: str, base_url: str) -> None:
    assert settings_for(set_conn, uri).base_url == base_url


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "http://127.0.0.1:8030"}, "http://127.0.0.1:8030"),
        ({"host": "https://trigger.example.com/"}, "https://trigger.example.com"),
        ({"host": "https://example.com/trigger/api/"}, "https://example.com/trigger/api"),
        ({"host": "HTTPS://Trigger.Example.com"}, "https://Trigger.Example.com"),
        ({"host": "trigger.example.com", "port": 8443}, "https://trigger.example.com:8443"),
        ({"host": "http://127.0.0.1", "port": 8030}, "http://127.0.0.1:8030"),
        ({"host": "localhost:8030"}, "http://localhost:8030"),
        ({"host": "::1", "port": 8030}, "http://[::1]:8030"),
        ({"host": "  "}, "https://api.trigger.dev"),
    ],
)
def test_json_host_forms(set_conn: SetConn, fields: dict[str, object], base_url: str) -> None:
    assert settings_for(set_conn, {"password": DEV, **fields}).base_url == base_url


@pytest.mark.parametrize(
    ("key", "environment"),
    [(DEV, "dev"), (STG, "staging"), (PROD, "prod"), (ADDITIONAL_PROD, "prod")],
)
def test_secret_key_sets_the_environment(set_conn: SetConn, key: str, environment: str) -> None:
    s = settings_for(set_conn, {"password": key})
    assert (s.key_kind, s.environment) == (KeyKind.SECRET, environment)


def test_environment_matching_the_key_is_accepted(set_conn: SetConn) -> None:
    assert settings_for(set_conn, {"password": STG, "extra": {"environment": "stg"}}).environment == "staging"


def test_pat_environment_defaults_to_dev_and_follows_the_extra(set_conn: SetConn) -> None:
    s = settings_for(set_conn, {"password": PAT, "extra": {"project_ref": "proj_x"}})
    assert (s.key_kind, s.environment, s.project_ref) == (KeyKind.PAT, "dev", "proj_x")
    s = settings_for(set_conn, {"password": PAT, "extra": {"environment": "prod"}}, conn_id="other")
    assert s.environment == "prod"


def test_preview_key_with_branch(set_conn: SetConn) -> None:
    s = settings_for(set_conn, {"password": PREVIEW, "extra": {"preview_branch": "feature-x"}})
    assert (s.environment, s.preview_branch) == ("preview", "feature-x")
    assert s.client_kwargs()["preview_branch"] == "feature-x"


def test_explicit_dashboard_url_and_all_retry_fields(set_conn: SetConn) -> None:
    extra = {
        "dashboard_url": "https://trigger.example.com/",
        "retry_max_attempts": 3,
        "retry_factor": 2,
        "retry_min_timeout": 0.5,
        "retry_max_timeout": 4,
        "retry_randomize": False,
    }
    s = settings_for(set_conn, {"password": DEV, "host": "https://api.example.com", "extra": extra})
    assert s.dashboard_url == "https://trigger.example.com"
    assert s.retry == RetryOptions(max_attempts=3, factor=2.0, min_timeout=0.5, max_timeout=4.0)


def test_empty_extra_values_count_as_unset_and_legacy_prefix_is_read(set_conn: SetConn) -> None:
    extra = {"extra__trigger__project_ref": "proj_legacy", "timeout": "", "environment": None}
    s = settings_for(set_conn, {"password": DEV, "extra": extra})
    assert (s.project_ref, s.timeout, s.environment) == ("proj_legacy", None, "dev")


def test_hook_properties(set_conn: SetConn) -> None:
    set_conn("trigger_default", {"password": PROD, "extra": {"project_ref": "proj_abc"}})
    hook = TriggerHook()
    assert (hook.key_kind, hook.environment, hook.project_ref) == (KeyKind.SECRET, "prod", "proj_abc")
    assert hook.dashboard_url == "https://cloud.trigger.dev"
    assert hook.run_url("run_123") == "https://cloud.trigger.dev/runs/run_123"
    assert hook.run_url("run/with space") == "https://cloud.trigger.dev/runs/run%2Fwith%20space"


def test_missing_project_ref_names_the_field(set_conn: SetConn) -> None:
    set_conn("trigger_default", f"trigger://:{PAT}@")
    with pytest.raises(TriggerConnectionError, match=r"'trigger_default'.*project_ref"):
        _ = TriggerHook().project_ref


def test_ui_field_behaviour() -> None:
    behaviour = TriggerHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"] == {"host": "API URL", "password": "Secret key or personal access token"}
    assert "api.trigger.dev" in behaviour["placeholders"]["host"]


# -- bad input: each names the connection id and the field, and never the key --------------------

SECRET_LOOKING = "tr_bogus_" + "z9" * 12


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"host": "https://api.trigger.dev"}, "password"),
        (f"trigger://{DEV}@", "login"),  # the key went into login: a hint says where it belongs
        ({"password": SECRET_LOOKING}, "password"),
        ({"password": "   "}, "password"),
        ({"password": DEV, "extra": {"environment": "production"}}, "environment"),
        ({"password": PROD, "extra": {"environment": "dev"}}, "environment"),
        ({"password": DEV, "extra": {"timeout": -1}}, "timeout"),
        ({"password": DEV, "extra": {"timeout": "soon"}}, "timeout"),
        ({"password": DEV, "extra": {"retry_max_attempts": 0}}, "retry_max_attempts"),
        ({"password": DEV, "extra": {"retry_randomize": "maybe"}}, "retry_randomize"),
        ({"password": DEV, "extra": {"retry_factor": 0}}, "retry_factor"),
        ({"password": DEV, "extra": {"projectRef": "proj_x"}}, "projectRef"),
        ({"password": DEV, "extra": {"project_ref": "my-project"}}, "project_ref"),
        ({"password": DEV, "extra": {"dashboard_url": "cloud.trigger.dev"}}, "dashboard_url"),
        ({"password": PREVIEW}, "preview_branch"),
        ({"password": DEV, "host": "ftp://trigger.example.com"}, "host"),
        ({"password": DEV, "host": "https://"}, "host"),
        ({"password": DEV, "host": "https://user:pw@trigger.example.com"}, "host"),
        ({"password": DEV, "host": "https://trigger.example.com?x=1"}, "host"),
        ({"password": DEV, "host": "not a host"}, "host"),
        ({"password": DEV, "host": "localhost:99999"}, "port"),
        ({"password": DEV, "host": "http://localhost:8030", "port": 9000}, "port"),
        ({"password": DEV, "port": 8030}, "port"),
        ({"password": DEV, "host": "trigger.example.com", "schema": "postgres"}, "schema"),
        ({"password": DEV, "host": "https://trigger.example.com", "schema": "http"}, "schema"),
    ],
)
def test_bad_input_names_connection_and_field(
    set_conn: SetConn, value: dict[str, object] | str, field: str
) -> None:
    set_conn("trigger_bad", value)
    with pytest.raises(TriggerConnectionError) as info:
        _ = TriggerHook(trigger_conn_id="trigger_bad").settings
    message = str(info.value)
    assert "'trigger_bad'" in message
    assert field in message
    for key in (DEV, PROD, PREVIEW, SECRET_LOOKING):
        assert key not in message


def test_connection_error_is_an_airflow_exception_and_a_value_error() -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    assert issubclass(TriggerConnectionError, AirflowException)
    assert issubclass(TriggerConnectionError, ValueError)


def test_key_is_not_in_reprs(set_conn: SetConn) -> None:
    set_conn("trigger_default", {"password": DEV})
    hook = TriggerHook()
    assert DEV not in repr(hook.settings)
    assert DEV not in repr(hook)
    assert repr(hook) == "TriggerHook(trigger_conn_id='trigger_default')"
