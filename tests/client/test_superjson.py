"""Reading superjson documents: the meta types revived, and what is kept as its JSON form."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from airflow_provider_trigger.client._superjson import deserialize, parse_path


def test_paths_split_on_unescaped_dots() -> None:
    assert parse_path("a.b") == ["a", "b"]
    assert parse_path("a\\.b.c") == ["a.b", "c"]
    assert parse_path("a\\\\.b") == ["a\\", "b"]


def test_nested_and_escaped_paths_are_revived() -> None:
    document = {
        "json": {"a.b": {"when": "2026-05-06T07:08:09.010Z"}, "list": [None, "5"], "n": "NaN"},
        "meta": {
            "values": {"a\\.b.when": ["Date"], "list.0": ["undefined"], "list.1": ["bigint"], "n": ["NaN"]}
        },
    }
    value = deserialize(document)
    assert value["a.b"]["when"] == datetime(2026, 5, 6, 7, 8, 9, 10_000, tzinfo=UTC)
    assert value["list"] == [None, 5] and math.isnan(value["n"])


def test_root_values_and_maps_with_annotated_entries() -> None:
    assert deserialize({"json": "1970-01-01T00:00:00.000Z", "meta": {"values": ["Date"]}}) == datetime(
        1970, 1, 1, tzinfo=UTC
    )
    nested = {"json": [["k", "2026-01-01T00:00:00.000Z"]], "meta": {"values": ["map", {"0.1": ["Date"]}]}}
    assert deserialize(nested) == {"k": datetime(2026, 1, 1, tzinfo=UTC)}
    unhashable = {"json": [[{"id": 1}, "v"]], "meta": {"values": ["map"]}}
    assert deserialize(unhashable) == [[{"id": 1}, "v"]]  # kept as pairs


def test_unknown_types_and_bad_paths_keep_the_json_form() -> None:
    document = {
        "json": {"err": {"name": "Error", "message": "m"}, "u": "https://x.y/", "c": {"a": 1}},
        "meta": {
            "values": {"err": ["Error"], "u": ["URL"], "c": [["class", "Point"]], "missing.path": ["Date"]}
        },
    }
    assert deserialize(document) == document["json"]
    assert deserialize({"json": {"d": "not a date"}, "meta": {"values": {"d": ["Date"]}}}) == {
        "d": "not a date"
    }
