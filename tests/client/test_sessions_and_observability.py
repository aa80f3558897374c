"""errors, query, sessions, prompts and run spans: the emulator has no such routes yet, so these run
against a scripted real HTTP server and check what goes on the wire and how the answer is parsed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_trigger.client import TriggerClient, omit
from tests.client.conftest import Scripted

Case = tuple[Callable[[TriggerClient], Any], str, str, Any, dict[str, str]]

CASES: list[Case] = [
    (lambda c: c.errors.retrieve("error_1"), "GET", "/api/v1/errors/error_1", None, {}),
    (
        lambda c: c.errors.resolve("error_1", resolved_in_version="v2"),
        "POST",
        "/api/v1/errors/error_1/resolve",
        {"resolvedInVersion": "v2"},
        {},
    ),
    (
        lambda c: c.errors.ignore("error_1", duration_ms=60000, reason="noise"),
        "POST",
        "/api/v1/errors/error_1/ignore",
        {"duration": 60000, "reason": "noise"},
        {},
    ),
    (lambda c: c.errors.unresolve("error_1"), "POST", "/api/v1/errors/error_1/unresolve", None, {}),
    (
        lambda c: c.query.execute("SELECT 1", period="7d"),
        "POST",
        "/api/v1/query",
        {"query": "SELECT 1", "scope": "environment", "period": "7d", "format": "json"},
        {},
    ),
    (lambda c: c.query.schema(), "GET", "/api/v1/query/schema", None, {}),
    (lambda c: c.query.dashboards(), "GET", "/api/v1/query/dashboards", None, {}),
    (
        lambda c: c.sessions.start(
            type="chat", task_identifier="agent", trigger_config={"basePayload": {}}, external_id="conv-1"
        ),
        "POST",
        "/api/v1/sessions",
        {
            "type": "chat",
            "taskIdentifier": "agent",
            "triggerConfig": {"basePayload": {}},
            "externalId": "conv-1",
        },
        {},
    ),
    (lambda c: c.sessions.retrieve("conv/1"), "GET", "/api/v1/sessions/conv%2F1", None, {}),
    (
        lambda c: c.sessions.update("session_1", metadata=None, tags=["a"]),
        "PATCH",
        "/api/v1/sessions/session_1",
        {"tags": ["a"], "metadata": None},
        {},
    ),
    (
        lambda c: c.sessions.update("session_1", external_id=omit),
        "PATCH",
        "/api/v1/sessions/session_1",
        {},
        {},
    ),
    (
        lambda c: c.sessions.close("session_1", reason="done"),
        "POST",
        "/api/v1/sessions/session_1/close",
        {"reason": "done"},
        {},
    ),
    (
        lambda c: c.prompts.retrieve("greet", label="prod"),
        "GET",
        "/api/v1/prompts/greet?label=prod",
        None,
        {},
    ),
    (
        lambda c: c.prompts.resolve("greet", variables={"n": 1}),
        "POST",
        "/api/v1/prompts/greet",
        {"variables": {"n": 1}},
        {},
    ),
    (lambda c: c.prompts.promote("greet", 3), "POST", "/api/v1/prompts/greet/promote", {"version": 3}, {}),
    (
        lambda c: c.prompts.create_override("greet", text_content="Hi"),
        "POST",
        "/api/v1/prompts/greet/override",
        {"textContent": "Hi"},
        {},
    ),
    (
        lambda c: c.prompts.update_override("greet", model="m"),
        "PUT",
        "/api/v1/prompts/greet/override",
        {"model": "m"},
        {},
    ),
    (lambda c: c.prompts.remove_override("greet"), "DELETE", "/api/v1/prompts/greet/override", None, {}),
    (
        lambda c: c.prompts.reactivate_override("greet", 2),
        "POST",
        "/api/v1/prompts/greet/override/reactivate",
        {"version": 2},
        {},
    ),
    (lambda c: c.runs.retrieve_span("run_1", "span 1"), "GET", "/api/v1/runs/run_1/spans/span%201", None, {}),
]


@pytest.mark.parametrize(("call", "method", "path", "body", "_"), CASES)
def test_request_on_the_wire(
    scripted: Scripted, call: Callable[[TriggerClient], Any], method: str, path: str, body: Any, _: Any
) -> None:
    scripted.add(200, {"id": "error_1", "slug": "greet", "data": {"slug": "greet"}})
    call(TriggerClient("tr_dev_x", base_url=scripted.base_url))
    sent = scripted.received[0]
    assert (sent["method"], sent["path"]) == (method, path)
    if body is not None:
        import json

        assert json.loads(sent["body"]) == body


def test_errors_list_is_cursor_paginated(scripted: Scripted) -> None:
    scripted.add(200, {"data": [{"id": "error_1", "status": "unresolved"}], "pagination": {"next": "c1"}})
    scripted.add(200, {"data": [{"id": "error_2", "status": "resolved"}], "pagination": {}})
    page = TriggerClient("tr_dev_x", base_url=scripted.base_url).errors.list(status="unresolved", limit=1)
    assert [e.id for e in page] == ["error_1", "error_2"]
    assert (
        scripted.received[1]["path"]
        == "/api/v1/errors?filter%5Bstatus%5D=unresolved&page%5Bsize%5D=1&page%5Bafter%5D=c1"
    )


def test_sessions_list_and_prompts_list(scripted: Scripted) -> None:
    scripted.add(200, {"data": [{"id": "session_1", "externalId": "conv-1"}], "pagination": {}})
    client = TriggerClient("tr_dev_x", base_url=scripted.base_url)
    sessions = client.sessions.list(status="ACTIVE")
    assert sessions.data[0].external_id == "conv-1"
    scripted.responses[:] = []
    scripted.add(200, {"data": [{"slug": "greet", "hasOverride": True}]})
    prompts = client.prompts.list()
    assert prompts[0].slug == "greet" and prompts[0].has_override


def test_query_results(scripted: Scripted) -> None:
    scripted.add(200, {"format": "json", "results": [{"n": 1}]})
    result = TriggerClient("tr_dev_x", base_url=scripted.base_url).query.execute("SELECT 1")
    assert result.results == [{"n": 1}]
