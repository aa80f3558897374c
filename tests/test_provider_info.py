"""The provider registration: provider info, the connection form, and what Airflow itself reads from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_trigger import __version__
from airflow_provider_trigger.get_provider_info import CONN_FIELDS, get_provider_info
from airflow_provider_trigger.hooks import TriggerHook
from airflow_provider_trigger.hooks._connection import _EXTRA_NAMES
from tests.airflow_compat import AIRFLOW_V_3_2_PLUS, AIRFLOW_V_3_3_PLUS


def _connection_type() -> dict[str, object]:
    (entry,) = get_provider_info()["connection-types"]
    return entry


def test_entry_point_points_at_get_provider_info() -> None:
    (ep,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider")
    ]
    assert ep.load() is get_provider_info


def test_provider_info_matches_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-trigger"
    assert info["versions"] == [__version__]
    assert info["hooks"] == [
        {"integration-name": "Trigger.dev", "python-modules": ["airflow_provider_trigger.hooks.trigger"]}
    ]


def test_connection_type_agrees_with_the_hook() -> None:
    entry = _connection_type()
    assert entry["hook-class-name"] == f"{TriggerHook.__module__}.{TriggerHook.__qualname__}"
    assert entry["connection-type"] == TriggerHook.conn_type
    assert entry["hook-name"] == TriggerHook.hook_name
    behaviour = entry["ui-field-behaviour"]
    assert isinstance(behaviour, dict)
    assert TriggerHook.get_ui_field_behaviour() == {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }


def test_form_fields_are_exactly_the_extras_the_hook_reads() -> None:
    assert set(CONN_FIELDS) == set(_EXTRA_NAMES)
    for name, field in CONN_FIELDS.items():
        assert field["label"] and field["description"], name
        assert "null" in field["schema"]["type"], name  # every extra is optional


def test_providers_manager_registers_hook_form_and_fields() -> None:
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert pm.providers["airflow-provider-trigger"].version == __version__
    if AIRFLOW_V_3_3_PLUS:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook_info = ProvidersManagerTaskRuntime().hooks["trigger"]  # what Connection.get_hook() uses
    else:
        hook_info = pm.hooks["trigger"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_trigger.hooks.trigger.TriggerHook"
    assert hook_info.connection_id_attribute_name == "trigger_conn_id"
    assert hook_info.connection_testable
    assert pm.field_behaviours["trigger"]["relabeling"]["host"] == "API URL"
    assert set(pm.field_behaviours["trigger"]["hidden_fields"]) == {"schema", "port", "login"}
    if AIRFLOW_V_3_2_PLUS:  # from conn-fields; 3.0/3.1 need the UI's WTForms (next tests)
        assert {f"extra__trigger__{name}" for name in CONN_FIELDS} <= set(pm.connection_form_widgets)


_SCRIPT = """
import json, sys
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "trigger"]
print("FORM " + json.dumps({
    "hook_imported": "airflow_provider_trigger.hooks.trigger" in sys.modules,
    "meta": meta.model_dump(mode="json"),
}))
from airflow.__main__ import main
sys.argv = ["airflow", "providers", "list", "-o", "json"]
main()
"""


@pytest.fixture(scope="module")
def airflow_output() -> tuple[dict[str, Any], dict[str, Any]]:
    """One Airflow process: the API server's connection form, then ``airflow providers list -o json``."""
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], check=True, capture_output=True, text=True, env=os.environ.copy()
    )
    lines = out.stdout.splitlines()
    (form,) = [json.loads(line.removeprefix("FORM ")) for line in lines if line.startswith("FORM ")]
    (listing,) = [json.loads(line) for line in lines if line.startswith("[{")]
    return form, {p["package_name"]: p for p in listing}


@pytest.mark.timeout(180)
def test_api_server_builds_the_form_with_every_extra_field(
    airflow_output: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    result, _ = airflow_output
    # 3.3 builds the form from the provider info alone; older minors import every hook (3.0/3.1 for
    # get_connection_form_widgets(), 3.2 to check it, then reading conn-fields)
    assert result["hook_imported"] is not AIRFLOW_V_3_3_PLUS
    meta = result["meta"]
    assert meta["hook_name"] == "Trigger.dev"
    assert meta["standard_fields"]["host"]["title"] == "API URL"
    assert meta["standard_fields"]["password"]["title"] == "Secret key or personal access token"
    assert meta["standard_fields"]["login"]["hidden"] is True
    fields = meta["extra_fields"]
    assert fields["project_ref"]["schema"]["title"] == "Project ref"
    assert set(fields) == set(CONN_FIELDS)
    # what the form shows for each option and for the unset value (it used to read "null"): 3.2+ gets
    # the schema with values_display; 3.0/3.1 build it from the WTForms widgets, without the None option
    schema = fields["environment"]["schema"]
    assert [v for v in schema["enum"] if v is not None] == ["dev", "staging", "prod", "preview"]
    labels = [_ui_label(v, schema.get("values_display")) for v in schema["enum"]]
    assert labels[:4] == ["dev", "staging", "prod", "preview"] and "null" not in labels
    assert fields["environment"]["value"] is None
    if None in schema["enum"]:
        assert _ui_label(None, schema["values_display"]).startswith("Not set")


def _ui_label(value: Any, values_display: dict[str, str] | None) -> str:
    """The option label Airflow 3.3's connection form shows for an enum value (ui FieldDropdown)."""
    text = "null" if value is None else str(value)
    if isinstance(values_display, dict):
        return values_display.get(text, values_display.get("None", text))
    return text


@pytest.mark.timeout(180)
def test_airflow_providers_list_shows_the_provider(
    airflow_output: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, providers = airflow_output
    assert providers["airflow-provider-trigger"]["version"] == __version__


def test_every_trigger_module_is_registered() -> None:
    """Airflow lists triggers from the provider info: the run watcher (AssetWatcher) included."""
    [entry] = get_provider_info()["triggers"]
    assert entry["python-modules"] == [
        "airflow_provider_trigger.triggers.runs",
        "airflow_provider_trigger.triggers.events",
        "airflow_provider_trigger.triggers.waitpoints",
    ]


def test_waitpoint_modules_and_the_task_decorator_are_registered() -> None:
    info = get_provider_info()
    [operators] = info["operators"]
    [sensors] = info["sensors"]
    assert "airflow_provider_trigger.operators.waitpoints" in operators["python-modules"]
    assert "airflow_provider_trigger.sensors.waitpoints" in sensors["python-modules"]
    assert info["task-decorators"] == [
        {
            "name": "trigger_dev",
            "class-name": "airflow_provider_trigger.decorators.trigger_dev.trigger_dev_task",
        }
    ]
