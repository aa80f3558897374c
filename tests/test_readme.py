"""Every code block in the README is run here or copied from a file that the tests run."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest

from airflow_provider_trigger.client import TriggerClient
from airflow_provider_trigger.emulator import EmulatorServer

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = [
    (match.group(1), match.group(2), " ".join(README[: match.start()].rstrip().splitlines()[-3:]))
    for match in re.finditer(r"```(\w+)\n(.*?)```", README, re.S)
]
COPIED = [(code, re.search(r"From `([^`]+)`", intro)) for lang, code, intro in BLOCKS if lang == "python"]


def _is_subsequence(lines: list[str], text: list[str]) -> bool:
    remaining = iter(text)
    return all(any(line == candidate for candidate in remaining) for line in lines)


@pytest.mark.parametrize(("code", "source"), [c for c in COPIED if c[1]], ids=lambda v: "")
def test_copied_blocks_match_their_file(code: str, source: re.Match[str]) -> None:
    text = (ROOT / source.group(1)).read_text().splitlines()
    lines = [line for line in code.splitlines() if line.strip()]
    assert _is_subsequence(lines, text), f"README block differs from {source.group(1)}"


@pytest.mark.parametrize("code", [c for c, source in COPIED if not source])
def test_python_blocks_run_against_the_emulator(
    code: str, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIGGER_SECRET_KEY", emulator.secret_key)
    monkeypatch.setenv("TRIGGER_API_URL", emulator.base_url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue(), "the README example printed nothing"
    assert emulator.requests.all(), "the README example made no request"


def _bash_lines() -> list[str]:
    return [line for lang, code, _ in BLOCKS if lang == "bash" for line in code.splitlines() if line.strip()]


def test_bash_commands_exist() -> None:
    for line in _bash_lines():
        command = shlex.split(line, comments=True)
        if command and command[0].startswith("./"):
            assert os.access(ROOT / command[0], os.X_OK), command[0]


@pytest.mark.parametrize("line", [line for line in _bash_lines() if line.startswith("export AIRFLOW_CONN_")])
def test_connection_examples_parse(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_trigger.hooks import TriggerHook

    name, value = shlex.split(line.removeprefix("export "))[0].split("=", 1)
    monkeypatch.setenv(name, value)
    hook = TriggerHook(trigger_conn_id=name.removeprefix("AIRFLOW_CONN_").lower())
    settings = hook.settings
    assert settings.api_key and settings.base_url.startswith("http")


def test_operations_table_names_real_methods() -> None:
    client = TriggerClient(api_key="tr_dev_readme", base_url="http://127.0.0.1:9")
    calls = re.findall(r"`client\.([a-z_.]+)\(", README)
    assert len(calls) > 50
    for call in calls:
        target: object = client
        for part in call.split("."):
            target = getattr(target, part)
        assert callable(target), call


RUN_LOG_INTRO = "produced by the failing run of"
EXCERPT_TASK = "import-orders"
EXCERPT_LOGS = [
    ("info", "Fetching orders since 2026-11-29"),
    ("info", "Fetched 1,204 orders"),
    ("warn", "Order 1187 has no customer; skipped"),
]
EXCERPT_STACK = (
    "Error: Column 'total' is not a number in row 17\n"
    "    at parseRow (file:///app/src/trigger/import-orders.ts:41:11)\n"
    "    at Object.run (file:///app/src/trigger/import-orders.ts:18:20)"
)


def _normalised(text: str) -> list[str]:
    """Log lines without what changes between runs: times, run ids, ports, the logger suffix."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "<time>", text)
    text = re.sub(r"run_[a-z0-9]{21,}", "run_…", text)
    text = re.sub(r"https?://[^/\s]+/runs/", "<dashboard>/runs/", text)
    text = re.sub(r"\s+\[(airflow|task)[^\]]*\][^\n]*", "", text)  # structlog's logger suffix
    text = re.sub(r"(?m)^<time> \[\s*\w+\s*\] ", "", text)  # structlog's time and level (3.1+)
    text = re.sub(r"(?m)^\[[^\]]+\] \{[^}]+\} \w+ - ", "", text)  # Airflow 3.0's task log format
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_the_run_log_excerpt_is_what_a_failed_run_prints(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's task-log excerpt, reproduced: the same run logs the same lines in real Airflow."""
    from airflow.sdk import DAG

    from airflow_provider_trigger.emulator import TaskBehaviour
    from airflow_provider_trigger.exceptions import TriggerRunFailedError
    from airflow_provider_trigger.operators import TriggerTaskOperator
    from tests.task_runtime import connection_env, start_try

    [excerpt] = [code for lang, code, intro in BLOCKS if lang == "text" and RUN_LOG_INTRO in intro]
    monkeypatch.setenv("AIRFLOW_CONN_TRIGGER_DEFAULT", connection_env(emulator))
    error = "Column 'total' is not a number in row 17"
    behaviour = TaskBehaviour(
        EXCERPT_TASK, duration=0.3, fail=error, logs=EXCERPT_LOGS, stack_trace=EXCERPT_STACK
    )
    emulator.state.set_task(behaviour)
    with DAG("readme_run_logs", schedule=None):
        operator = TriggerTaskOperator(
            task_id="import_orders", task_identifier=EXCERPT_TASK, poll_interval=0.1
        )
    task, context, _ = start_try(operator)
    capsys.readouterr()
    with pytest.raises(TriggerRunFailedError):
        task.execute(context)
    printed = _normalised(capsys.readouterr().out)
    shown = _normalised(excerpt)
    assert len(shown) >= 8 and _is_subsequence(shown, printed), "\n".join(printed)
