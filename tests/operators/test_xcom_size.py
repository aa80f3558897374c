"""``check_xcom_size``: the limit read from Airflow's config, the message, and the ways to turn it off."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.operators._xcom import DEFAULT_MAX_BYTES, XComTooLargeError, check_xcom_size


def test_default_limit_lets_large_but_sane_outputs_through() -> None:
    check_xcom_size({"blob": "x" * (5 * 1024 * 1024)}, what="output", run_id="run_1")
    assert DEFAULT_MAX_BYTES == 48 * 1024 * 1024


def test_over_the_limit_names_size_run_and_remedies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__TRIGGER__XCOM_MAX_BYTES", "1024")
    with pytest.raises(XComTooLargeError) as caught:
        check_xcom_size({"blob": "x" * 4096}, what="output", run_id="run_abc")
    message = str(caught.value)
    assert message.startswith(
        "The output of Trigger.dev run run_abc is 4.0 KiB as JSON, more than the 1.0 KiB"
    )
    assert "xcom_backend" in message and "do_xcom_push=False" in message


def test_no_push_no_value_or_zero_limit_skip_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__TRIGGER__XCOM_MAX_BYTES", "10")
    check_xcom_size("x" * 100, what="output", run_id="run_1", push=False)
    check_xcom_size(None, what="output", run_id="run_1")
    monkeypatch.setenv("AIRFLOW__TRIGGER__XCOM_MAX_BYTES", "0")
    check_xcom_size("x" * 100, what="output", run_id="run_1")
