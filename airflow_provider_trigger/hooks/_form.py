"""The connection form's extra fields as WTForms widgets, for Airflow 3.0 and 3.1.

Airflow 3.2+ builds the form from ``conn-fields`` in the provider info without importing the hook;
3.0 and 3.1 only call ``TriggerHook.get_connection_form_widgets()``. Both come from ``CONN_FIELDS``, so
the two forms cannot drift apart. WTForms has no number field Airflow accepts: numbers are text fields,
which the hook coerces (``"30"`` → 30.0) and checks like any extra.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_trigger.get_provider_info import CONN_FIELDS


def connection_form_widgets() -> dict[str, Any]:
    """``{extra name: WTForms field}`` for every extra the hook reads (imports the UI libraries)."""
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import Optional, any_of

    text_widget: dict[str, Any] = {}
    try:  # the FAB UI's look; the API server of Airflow 3.0/3.1 renders the fields without it
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget

        text_widget["widget"] = BS3TextFieldWidget()
    except ImportError:
        pass
    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        schema = field["schema"]
        validators: list[Any] = [Optional()]
        if "enum" in schema:  # None left out: 3.0/3.1's form would offer it as an option labelled "null"
            validators.append(any_of([value for value in schema["enum"] if value is not None]))
        options = {"validators": validators, "description": field["description"]}
        if "boolean" in schema["type"]:
            widgets[name] = BooleanField(field["label"], **options)
        else:
            field_class = IntegerField if "integer" in schema["type"] else StringField
            widgets[name] = field_class(field["label"], **options, **text_widget)
    return widgets
