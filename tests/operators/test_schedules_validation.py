"""Schedule declarations checked locally with the server's rules (no server involved)."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import Schedule
from airflow_provider_trigger.operators._schedule_rules import (
    ScheduleSpec,
    local_timezones,
    schedule_view,
    validate_cron,
    validate_timezone,
    validate_window,
)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("0 9 * * 1-5", "0 9 * * 1-5"),
        ("  */15   *  * * *  ", "*/15 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 12 * JAN,FEB MON#2", "0 12 * JAN,FEB MON#2"),
    ],
)
def test_valid_cron_is_normalised(given: str, sent: str) -> None:
    assert validate_cron(given) == sent


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("0 0 * * * *", "seconds are not allowed"),
        ("0 0 * *", "got 4"),
        ("61 * * * *", "out of range"),
        ("0 25 * * *", "out of range"),
        ("every day", "got 2"),
        ("*/0 * * * *", "out of range"),
    ],
)
def test_invalid_cron_says_why(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_cron(bad)


@pytest.mark.parametrize("window", [None, "0m", "30m", "24h", "1440m", "0%", "100%"])
def test_valid_windows(window: str | None) -> None:
    assert validate_window(window) == window


@pytest.mark.parametrize("window", ["25h", "1441m", "101%", "30", "1.5h", "-5m", "05m", "30 m"])
def test_invalid_windows(window: str) -> None:
    with pytest.raises(ValueError, match="window"):
        validate_window(window)


def test_timezone_checked_against_a_list() -> None:
    known = local_timezones()
    assert validate_timezone("Europe/London", known) == "Europe/London"
    assert validate_timezone(None, known) is None
    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        validate_timezone("Mars/Olympus_Mons", known)


def test_spec_parse_rejects_unknown_fields_and_missing_ones() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        ScheduleSpec.parse({"task": "t", "cron": "* * * * *", "deduplication_key": "k", "timezon": "UTC"})
    with pytest.raises(ValueError, match="deduplication_key is required"):
        ScheduleSpec.parse({"task": "t", "cron": "* * * * *"})
    with pytest.raises(ValueError, match=r"'k'.*cron"):
        ScheduleSpec.parse({"task": "t", "cron": "* * *", "deduplication_key": "k"})


def test_spec_matches_the_servers_echo() -> None:
    spec = ScheduleSpec.parse(
        {"task": "t", "cron": "0 * * * *", "deduplication_key": "k", "window": "60m", "external_id": "u1"}
    )
    server = schedule_view(
        Schedule.model_validate(
            {
                "id": "sched_1",
                "type": "IMPERATIVE",
                "task": "t",
                "active": True,
                "generator": {"type": "CRON", "expression": "0 * * * *", "description": "Every hour"},
                "timezone": "UTC",
                "externalId": "u1",
                "window": "1h",  # the server formats 60m as 1h
            }
        )
    )
    assert spec.matches(server)
    assert not spec.matches({**server, "active": False})
    assert not spec.matches({**server, "timezone": "Europe/Paris"})
    assert not spec.matches({**server, "cron": "5 * * * *"})
    assert not spec.matches({**server, "external_id": None})
