"""The supported Airflow range is stated once per place and every place agrees: the provider info,
``pyproject.toml``, ``uv.lock``, the CI pins in ``ci/constraints`` and the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from airflow_provider_trigger.get_provider_info import (
    MIN_AIRFLOW_VERSION,
    TESTED_AIRFLOW_VERSIONS,
    get_provider_info,
)

ROOT = Path(__file__).parents[1]
PINS = ROOT / "ci" / "constraints"


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_one_tested_release_per_minor_from_the_minimum_on() -> None:
    minors = [_minor(v) for v in TESTED_AIRFLOW_VERSIONS]
    assert minors[0] == MIN_AIRFLOW_VERSION
    assert minors == [f"3.{n}" for n in range(len(minors))]
    assert f"Apache Airflow {MIN_AIRFLOW_VERSION} to {minors[-1]}." in get_provider_info()["description"]


def test_pyproject_and_lock_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"apache-airflow>={MIN_AIRFLOW_VERSION}" in project["project"]["dependencies"]
    assert project["tool"]["uv"]["constraint-dependencies"] == [
        f"apache-airflow=={TESTED_AIRFLOW_VERSIONS[-1]}"
    ]


def test_ci_pins_each_older_release() -> None:
    pinned = {}
    for path in sorted(PINS.glob("airflow-*.txt")):
        [version] = re.findall(r"^apache-airflow==(\S+)", path.read_text(), re.M)
        pinned[path.stem.removeprefix("airflow-")] = version
    assert pinned == {_minor(v): v for v in TESTED_AIRFLOW_VERSIONS[:-1]}


def test_readme_states_every_tested_release() -> None:
    readme = (ROOT / "README.md").read_text()
    for version in TESTED_AIRFLOW_VERSIONS:
        assert f"| {_minor(version)} | {version} |" in readme, version
