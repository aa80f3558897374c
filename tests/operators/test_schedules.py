"""Schedule operators against the emulator, with a real Airflow Connection."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
from airflow_provider_trigger.operators.schedules import (
    TriggerDeleteScheduleOperator,
    TriggerScheduleOperator,
    TriggerSchedulesSyncOperator,
)

PREFIX = "airflow/deploy/"


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    conn = {"conn_type": "trigger", "host": emulator.base_url, "password": emulator.secret_key}
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", json.dumps(conn))
    emulator.state.config.strict_tasks = True
    for task in ("nightly-report", "hourly-sync", "cleanup"):
        emulator.state.set_task(TaskBehaviour(task))
    return emulator


def _schedules(emulator: EmulatorServer) -> dict[str, Any]:
    with emulator.state.lock:
        return {s.deduplication_key: s for s in emulator.state.stores.schedules.values()}


def _writes(emulator: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests if r.method != "GET"]


def _upsert(**kwargs: Any) -> dict[str, Any]:
    return TriggerScheduleOperator(task_id="schedule", **kwargs).execute({})  # type: ignore[arg-type]


def _sync(schedules: list[dict[str, Any]], **kwargs: Any) -> dict[str, list[str]]:
    op = TriggerSchedulesSyncOperator(task_id="sync", schedules=schedules, key_prefix=PREFIX, **kwargs)
    return op.execute({})  # type: ignore[arg-type]


def test_upsert_twice_keeps_one_schedule_and_updates_it(conn: EmulatorServer) -> None:
    first = _upsert(task="nightly-report", cron="0 2 * * *", deduplication_key="nightly")
    second = _upsert(
        task="nightly-report", cron="30 3 * * *", deduplication_key="nightly", timezone="Europe/Paris"
    )
    assert second["id"] == first["id"]
    assert (second["cron"], second["timezone"], second["active"]) == ("30 3 * * *", "Europe/Paris", True)
    assert second["next_run"]
    stored = _schedules(conn)
    assert list(stored) == ["nightly"]
    assert (stored["nightly"].cron, stored["nightly"].timezone) == ("30 3 * * *", "Europe/Paris")


def test_active_false_deactivates_and_true_reactivates(conn: EmulatorServer) -> None:
    off = _upsert(task="cleanup", cron="@daily", deduplication_key="cleanup", active=False)
    assert off["active"] is False and off["cron"] == "0 0 * * *"
    assert _schedules(conn)["cleanup"].active is False
    on = _upsert(task="cleanup", cron="@daily", deduplication_key="cleanup")
    assert on["active"] is True and _schedules(conn)["cleanup"].active is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "0 0 * * * *"}, "seconds are not allowed"),
        ({"cron": "99 * * * *"}, "out of range"),
        ({"timezone": "Mars/Base"}, "Unknown timezone 'Mars/Base'"),
        ({"window": "48h"}, "24 hours"),
        ({"deduplication_key": ""}, "deduplication_key is required"),
    ],
)
def test_bad_schedule_fails_before_any_write(
    conn: EmulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    conn.state.requests.clear()
    with pytest.raises(ValueError, match=message):
        _upsert(**{"task": "nightly-report", "cron": "0 2 * * *", "deduplication_key": "k", **kwargs})
    assert _writes(conn) == []


def test_unknown_task_is_the_servers_422_made_clear(conn: EmulatorServer) -> None:
    with pytest.raises(AirflowException, match=r"rejected schedule 'k' \(task 'no-such-task'\).*task exists"):
        _upsert(task="no-such-task", cron="0 2 * * *", deduplication_key="k")
    assert _schedules(conn) == {}


def test_sync_upserts_prunes_and_leaves_others_alone(conn: EmulatorServer) -> None:
    declarative = conn.state.add_schedule("nightly-report", "0 0 * * *", declarative=True)
    _upsert(task="cleanup", cron="0 1 * * *", deduplication_key="not-managed")  # outside the prefix
    declared = [
        {"task": "nightly-report", "cron": "0 2 * * *", "deduplication_key": PREFIX + "nightly"},
        {"task": "hourly-sync", "cron": "5 * * * *", "deduplication_key": PREFIX + "hourly"},
        {"task": "cleanup", "cron": "0 4 * * 0", "deduplication_key": PREFIX + "old"},
    ]
    assert _sync(declared) == {
        "created": [PREFIX + "nightly", PREFIX + "hourly", PREFIX + "old"],
        "updated": [],
        "unchanged": [],
        "deleted": [],
    }

    declared = [{**declared[0], "cron": "0 3 * * *"}, declared[1]]
    conn.state.requests.clear()
    assert _sync(declared) == {
        "created": [],
        "updated": [PREFIX + "nightly"],
        "unchanged": [PREFIX + "hourly"],
        "deleted": [PREFIX + "old"],
    }
    assert len(_writes(conn)) == 2  # one upsert, one delete: the unchanged schedule costs nothing
    stored = _schedules(conn)
    assert sorted(stored) == sorted(
        [PREFIX + "nightly", PREFIX + "hourly", "not-managed", declarative.deduplication_key]
    )
    assert stored[PREFIX + "nightly"].cron == "0 3 * * *"

    conn.state.requests.clear()
    assert _sync(declared)["unchanged"] == [PREFIX + "nightly", PREFIX + "hourly"]
    assert _writes(conn) == []


def test_sync_dry_run_writes_nothing(conn: EmulatorServer) -> None:
    conn.state.requests.clear()
    result = _sync(
        [{"task": "cleanup", "cron": "0 1 * * *", "deduplication_key": PREFIX + "c"}], dry_run=True
    )
    assert result["created"] == [PREFIX + "c"]
    assert _writes(conn) == [] and _schedules(conn) == {}


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            [{"task": "cleanup", "cron": "0 1 * * *", "deduplication_key": "elsewhere"}],
            "do not start with key_prefix",
        ),
        (
            [
                {"task": "cleanup", "cron": "0 1 * * *", "deduplication_key": PREFIX + "a"},
                {"task": "cleanup", "cron": "0 2 * * *", "deduplication_key": PREFIX + "a"},
            ],
            "Duplicate",
        ),
        (
            [{"task": "cleanup", "cron": "0 1 * * *", "deduplication_key": PREFIX + "a", "tz": "UTC"}],
            "unknown field",
        ),
        ([{"task": "cleanup", "cron": "1 2 3", "deduplication_key": PREFIX + "a"}], "expected 5 fields"),
    ],
)
def test_sync_bad_declarations_fail_before_any_request(
    conn: EmulatorServer, declared: list[dict[str, Any]], message: str
) -> None:
    conn.state.requests.clear()
    with pytest.raises(ValueError, match=message):
        _sync(declared)
    assert list(conn.requests) == []


def test_delete_by_key_and_by_id(conn: EmulatorServer) -> None:
    a = _upsert(task="cleanup", cron="0 1 * * *", deduplication_key="a")
    _upsert(task="cleanup", cron="0 2 * * *", deduplication_key="b")
    assert TriggerDeleteScheduleOperator(task_id="d1", deduplication_key="b").execute({}) is not None  # type: ignore[arg-type]
    assert TriggerDeleteScheduleOperator(task_id="d2", schedule_id=a["id"]).execute({}) == a["id"]  # type: ignore[arg-type]
    assert _schedules(conn) == {}
    with pytest.raises(AirflowException, match="does not exist"):
        TriggerDeleteScheduleOperator(task_id="d3", schedule_id=a["id"]).execute({})  # type: ignore[arg-type]
    gone = TriggerDeleteScheduleOperator(task_id="d4", deduplication_key="b", missing_ok=True)
    assert gone.execute({}) is None  # type: ignore[arg-type]


def test_timezones_fall_back_to_local_data_when_the_endpoint_fails(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    conn = {
        "conn_type": "trigger",
        "host": emulator.base_url,
        "password": emulator.secret_key,
        "extra": {"retry_max_attempts": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", json.dumps(conn))
    emulator.faults.inject(method="GET", path="/api/v1/timezones", kind=503, count=None)
    schedule = _upsert(task="cleanup", cron="0 1 * * *", deduplication_key="tz", timezone="Asia/Tokyo")
    assert schedule["timezone"] == "Asia/Tokyo"
    with pytest.raises(ValueError, match="Unknown timezone"):
        _upsert(task="cleanup", cron="0 1 * * *", deduplication_key="tz", timezone="Asia/Atlantis")


def test_nothing_is_read_in_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_TRIGGER_DEFAULT", raising=False)
    ops = [
        TriggerScheduleOperator(task_id="a", task="t", cron="bad", deduplication_key="k"),
        TriggerSchedulesSyncOperator(task_id="b", schedules=[], key_prefix=""),
        TriggerDeleteScheduleOperator(task_id="c"),
    ]
    assert all("hook" not in op.__dict__ for op in ops)
