"""Cursor and offset pages: navigation, auto-pagination across pages, filters repeated."""

from __future__ import annotations

import pytest

from airflow_provider_trigger.client import CursorPage, OffsetPage, TriggerClient, TriggerClientError
from airflow_provider_trigger.emulator import EmulatorServer

# These tests are about list filters and pages, not the replica lag (test_production covers it).
pytestmark = pytest.mark.usefixtures("no_list_lag")


def _runs(client: TriggerClient, n: int, tag: str = "t") -> list[str]:
    return [client.tasks.trigger("hello-world", {"i": i}, tags=[tag]).id for i in range(n)]


def _list_requests(emulator: EmulatorServer, path: str = "/api/v1/runs") -> list:
    return [r for r in emulator.requests.all() if r.method == "GET" and r.path == path]


def test_cursor_auto_pagination_walks_every_page_once(
    client: TriggerClient, emulator: EmulatorServer
) -> None:
    ids = _runs(client, 25)
    page = client.runs.list(limit=10, tag="t")
    assert isinstance(page, CursorPage) and len(page.data) == 10 and page.has_next_page()
    assert not page.has_previous_page()
    emulator.requests.clear()
    seen = [run.id for run in page]
    assert sorted(seen) == sorted(ids) and len(seen) == 25
    requests = _list_requests(emulator)
    assert len(requests) == 2  # pages 2 and 3, no trailing empty page
    for request in requests:  # every filter repeated, cursor changed
        assert request.query["filter[tag]"] == "t" and request.query["page[size]"] == "10"
        assert "page[after]" in request.query and "page[before]" not in request.query


def test_cursor_next_and_previous(client: TriggerClient) -> None:
    _runs(client, 12)
    first = client.runs.list(limit=5)
    second = first.get_next_page()
    assert second.has_previous_page()
    back = second.get_previous_page()
    assert [r.id for r in back.data] == [r.id for r in first.data]
    pages = list(first.iter_pages())
    assert [len(p.data) for p in pages] == [5, 5, 2]
    assert not pages[-1].has_next_page()
    with pytest.raises(TriggerClientError, match="no next page"):
        pages[-1].get_next_page()


def test_empty_list(client: TriggerClient) -> None:
    page = client.runs.list()
    assert page.data == [] and not page.has_next_page() and list(page) == []


def test_offset_pagination_schedules(client: TriggerClient, emulator: EmulatorServer) -> None:
    created = [
        client.schedules.create(task="hello-world", cron="0 * * * *", deduplication_key=f"d{i}").id
        for i in range(5)
    ]
    page = client.schedules.list(per_page=2)
    assert isinstance(page, OffsetPage) and len(page.data) == 2
    assert page.has_next_page() and not page.has_previous_page()
    emulator.requests.clear()
    assert sorted(s.id for s in page) == sorted(created)
    requests = _list_requests(emulator, "/api/v1/schedules")
    assert [r.query for r in requests] == [{"perPage": "2", "page": "2"}, {"perPage": "2", "page": "3"}]
    third = client.schedules.list(page=3, per_page=2)
    assert isinstance(third, OffsetPage)
    assert third.current_page == 3 and not third.has_next_page()
    previous = third.get_previous_page()
    assert isinstance(previous, OffsetPage) and previous.current_page == 2


def test_deployments_are_forward_only(client: TriggerClient, emulator: EmulatorServer) -> None:
    for i in range(7):
        emulator.state.add_deployment(f"2026010{i}.1")
    page = client.deployments.list(limit=5)
    assert len(page.data) == 5 and page.has_next_page() and not page.has_previous_page()
    with pytest.raises(TriggerClientError, match="no previous page"):
        page.get_previous_page()
    everything = [d.id for d in client.deployments.list(limit=100).data]
    assert [d.id for d in page] == everything and len(everything) >= 7
    assert _list_requests(emulator, "/api/v1/deployments")[-1].query["page[after]"] == page.pagination["next"]


def test_iterating_twice_refetches_lazily(client: TriggerClient, emulator: EmulatorServer) -> None:
    _runs(client, 6)
    page = client.runs.list(limit=3)
    assert len(list(page)) == 6
    emulator.requests.clear()
    assert len(list(page)) == 6
    assert len(_list_requests(emulator)) == 1
