"""Row decoding and the row → run mapping (pure functions: the wire formats of both backends)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_provider_trigger.client.realtime import FeedState, output_in_feed, parse_array, parse_timestamp
from airflow_provider_trigger.client.realtime._rows import (
    STATUS_MAP,
    decode_packet,
    error_object,
    public_status,
    row_finished,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", []),
        ("{a,b}", ["a", "b"]),
        ('{"a b","x\\"y",plain}', ["a b", 'x"y', "plain"]),
        ('{"back\\\\slash"}', ["back\\slash"]),
        ('{"with,comma",z}', ["with,comma", "z"]),
    ],
)
def test_postgres_arrays(text: str, expected: list[str]) -> None:
    assert parse_array(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-06-06 10:05:30.12", "2026-06-06T10:05:30.120", "2026-06-06 10:05:30.12Z"],
)
def test_timestamps_of_both_backends_are_utc(text: str) -> None:
    assert parse_timestamp(text) == datetime(2026, 6, 6, 10, 5, 30, 120000, tzinfo=UTC)


def test_status_map_and_unknown_statuses() -> None:
    assert STATUS_MAP["COMPLETED_SUCCESSFULLY"] == "COMPLETED"
    assert public_status("COMPLETED_WITH_ERRORS") == "FAILED"
    assert public_status("INTERRUPTED") == "FAILED"
    assert public_status("WAITING_TO_RESUME") == "WAITING"
    assert public_status("RETRYING_AFTER_FAILURE") == "EXECUTING"
    assert public_status("WAITING_FOR_DEPLOY") == "PENDING_VERSION"
    assert public_status("SOMETHING_NEW") == "QUEUED"


def test_packets_and_errors() -> None:
    assert decode_packet('{"a":1}', "application/json") == {"a": 1}
    assert decode_packet('{"json":{"a":1},"meta":{}}', "application/super+json") == {"a": 1}
    assert decode_packet("hello", "text/plain") == "hello"
    assert decode_packet("bucket/path", "application/store") is None
    assert error_object({"type": "STRING_ERROR", "raw": "boom"}) == {"message": "boom"}
    assert error_object({"type": "INTERNAL_ERROR", "code": "TASK_RUN_CRASHED"}) == {
        "message": "trigger.dev internal error (TASK_RUN_CRASHED)"
    }
    built_in = {"type": "BUILT_IN_ERROR", "name": "Error", "message": "x", "stackTrace": "at y"}
    assert error_object(built_in) == {"name": "Error", "message": "x", "stackTrace": "at y"}


def row(**values: str | None) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "id": "cuid1",
        "friendlyId": "run_1",
        "taskIdentifier": "t",
        "status": "EXECUTING",
        "createdAt": "2026-06-06 10:00:00",
        "updatedAt": "2026-06-06 10:00:01",
        "completedAt": None,
        "runTags": "{a}",
        "isTest": "f",
        "output": None,
        "outputType": "application/json",
    }
    return {**base, **values}


def apply(state: FeedState, *messages: dict[str, object], schema: bool = False) -> list[object]:
    headers = {"electric-handle": "h", "electric-offset": "1_1"}
    if schema:
        headers["electric-schema"] = json.dumps({"runTags": {"type": "text", "dims": 1}})
    return state.apply(200, headers, list(messages))  # type: ignore[arg-type]


UP_TO_DATE = {"headers": {"control": "up-to-date"}}


def test_partial_updates_merge_and_changes_wait_for_up_to_date() -> None:
    state = FeedState("/realtime/v1/runs/run_1", stop_when_finished=True)
    key = '"public"."TaskRun"/"cuid1"'

    assert apply(state, {"key": key, "value": row(), "headers": {"operation": "insert"}}, schema=True) == []
    [first] = apply(state, UP_TO_DATE)
    assert first.status == "EXECUTING" and first.tags == ["a"]  # type: ignore[attr-defined]

    update = {
        "id": "cuid1",
        "status": "COMPLETED_SUCCESSFULLY",
        "updatedAt": "2026-06-06 10:00:05",
        "completedAt": "2026-06-06 10:00:05",
        "output": '{"n":1}',
    }
    [done] = apply(state, {"key": key, "value": update, "headers": {"operation": "update"}}, UP_TO_DATE)

    assert done.status == "COMPLETED" and done.output == {"n": 1}  # type: ignore[attr-defined]
    assert done.task_identifier == "t" and done.tags == ["a"]  # type: ignore[attr-defined]
    assert output_in_feed(done)  # type: ignore[arg-type]
    assert state.finished


def test_must_refetch_resets_and_repeated_states_are_not_emitted_again() -> None:
    state = FeedState("/realtime/v1/runs/run_1")
    key = '"public"."TaskRun"/"cuid1"'
    insert = {"key": key, "value": row(), "headers": {"operation": "insert"}}
    assert len(apply(state, insert, UP_TO_DATE)) == 1

    state.must_refetch("h2")
    assert (state.offset, state.handle, state.expired_handle, state.up_to_date) == ("-1", "h2", "h", False)
    assert state.query() == {"offset": "-1", "handle": "h2", "expired_handle": "h"}
    assert apply(state, insert, UP_TO_DATE) == []  # same updatedAt and status: not a change


def test_row_finished_on_completed_at_or_terminal_status() -> None:
    assert row_finished({"completedAt": "x", "status": "EXECUTING"})
    assert row_finished({"completedAt": None, "status": "CANCELED"})
    assert not row_finished({"completedAt": None, "status": "EXECUTING"})
