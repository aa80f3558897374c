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
