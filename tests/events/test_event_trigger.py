"""``TriggerRunEventTrigger`` as the DAG processor sees it: arguments, serialisation, hashing, cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.models.trigger import Trigger
from airflow.sdk import Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_trigger.triggers.cursor import MAX_SEEN_RUN_IDS, RunCursor
from airflow_provider_trigger.triggers.events import TriggerRunEventTrigger, small_output
from tests.airflow_compat import import_string


def test_serialize_is_plain_deterministic_json_that_round_trips() -> None:
    trigger = TriggerRunEventTrigger(task_identifier=["ingest", "backfill", "ingest"], tags="nightly")
    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_trigger.triggers.events.TriggerRunEventTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["task_identifier"] == ["backfill", "ingest"]  # sorted, unique: stable across parses
    assert kwargs["tags"] == ["nightly"]
    assert "password" not in json.dumps(kwargs) and "tr_" not in json.dumps(kwargs)
    # As the triggerer revives it: encrypted in the DB, decrypted, then built from the classpath.
    revived_kwargs = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(kwargs))
    revived = import_string(classpath)(**revived_kwargs)
    assert revived.serialize() == (classpath, kwargs)
    # Two parses of the same DAG file give the same hash, so the watcher keeps its Trigger row.
    again = TriggerRunEventTrigger(task_identifier=["ingest", "backfill"], tags=["nightly"]).serialize()
    assert BaseEventTrigger.hash(*again) == BaseEventTrigger.hash(classpath, kwargs)


def test_an_asset_watcher_accepts_it() -> None:
    asset = Asset("x", watchers=[AssetWatcher("w", TriggerRunEventTrigger(task_identifier="ingest"))])
    assert isinstance(asset.watchers[0].trigger, BaseEventTrigger)


def test_the_cursor_key_follows_what_is_watched_only() -> None:
    base = TriggerRunEventTrigger(task_identifier="ingest")
    assert base.cursor_key == TriggerRunEventTrigger(task_identifier="ingest", poll_interval=5).cursor_key
    assert base.cursor_key != TriggerRunEventTrigger(task_identifier="other").cursor_key
    assert base.cursor_key != TriggerRunEventTrigger(task_identifier="ingest", statuses=["FAILED"]).cursor_key
    assert base.cursor_key.startswith("trigger.dev/runs:")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs task_identifier= or tags="),
        ({"task_identifier": ""}, "non-empty strings"),
        ({"task_identifier": "a", "statuses": ["EXECUTING"]}, "terminal run statuses"),
        ({"task_identifier": "a", "statuses": []}, "terminal run statuses"),
        ({"task_identifier": "a", "since": "2026-01-01T00:00:00"}, "with a timezone"),
        ({"task_identifier": "a", "since": "yesterday"}, "Invalid isoformat|ISO timestamp"),
        ({"task_identifier": "a", "poll_interval": 0}, "poll_interval must be > 0"),
    ],
)
def test_bad_arguments_are_refused_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TriggerRunEventTrigger(**kwargs)


def test_statuses_are_case_insensitive() -> None:
    assert TriggerRunEventTrigger(tags="t", statuses=["failed", "Crashed"]).statuses == ["CRASHED", "FAILED"]


def test_cursor_moves_forward_and_stays_small() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = RunCursor()
    assert cursor.is_new("run_a", t0)
    cursor.add("run_a", t0, settle_time=60)
    assert not cursor.is_new("run_a", t0)
    assert cursor.is_new("run_b", t0)  # same finished time, another run: still new
    assert cursor.is_new("run_late", t0 - timedelta(seconds=30))  # listed late, within settle_time
    assert not cursor.is_new("run_old", t0 - timedelta(seconds=61))
    for n in range(MAX_SEEN_RUN_IDS + 50):
        cursor.add(f"run_{n}", t0 + timedelta(milliseconds=n), settle_time=60)
    assert len(cursor.seen) == MAX_SEEN_RUN_IDS
    assert not cursor.is_new("run_0", t0)  # forgotten ids are still not new
    assert RunCursor.from_json(json.loads(json.dumps(cursor.to_json()))) == cursor
    assert len(json.dumps(cursor.to_json())) < 65_535  # [state_store] max_value_storage_bytes


def test_a_stored_cursor_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        RunCursor.from_json({"version": 99})
    with pytest.raises(ValueError):
        RunCursor.from_json({"version": 1, "after": None, "seen": []})


def test_small_output() -> None:
    assert small_output({"a": 1}) == {"output": {"a": 1}}
    assert small_output("x" * 5000)["output_omitted"].endswith("over the 4096-byte limit")
    assert small_output({1, 2}) == {"output_omitted": "not JSON"}
