"""The demo: real Airflow runs the example DAGs against the local Trigger.dev emulator.

Starts the emulator on a free port, makes a throw-away Airflow home (SQLite), points the
``trigger_default`` connection at the emulator, runs every ``tests/system/example_*.py`` DAG with
``dag.test()``, prints what happened and exits non-zero if anything failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "system"
sys.path.insert(0, str(ROOT))

from airflow_provider_trigger.emulator import EmulatorServer  # noqa: E402
from airflow_provider_trigger.emulator.__main__ import EXAMPLE_TASKS  # noqa: E402


def _short(value: Any, width: int = 70) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def _configure_airflow(home: Path, emulator: EmulatorServer) -> None:
    dags = home / "dags"
    dags.mkdir(parents=True)
    for example in sorted(EXAMPLES.glob("example_*")):
        shutil.copy(example, dags / example.name)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_TRIGGER_DEFAULT": json.dumps(
                {
                    "conn_type": "trigger",
                    "host": emulator.base_url,
                    "password": emulator.secret_key,
                    "extra": {"project_ref": emulator.project_ref, "environment": "dev"},
                }
            ),
        }
    )
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ
    )


def _run_dags(dags_folder: Path) -> bool:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder))
    for path, error in bag.import_errors.items():
        print(f"✗ could not import {path}:\n{error}")
    ok = not bag.import_errors
    for dag_id in sorted(bag.dag_ids):
        print(f"\n▶ {dag_id}", flush=True)
        run = bag.get_dag(dag_id).test()
        ok &= run.state == "success"
        print(f"  DAG run {run.run_id}: {run.state}")
        for ti in sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
            name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            detail = []
            run_id = ti.xcom_pull(task_ids=ti.task_id, key="run_id", map_indexes=ti.map_index)
            if run_id:
                detail.append(f"run {run_id}")
            returned = ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
            if returned is not None:
                detail.append(f"→ {_short(returned)}")
            mark = "✓" if ti.state in ("success", "skipped") else "✗"
            print(f"  {mark} {name:<26} {ti.state!s:<9} {' '.join(detail)}")
    return ok


def _print_emulator_view(emulator: EmulatorServer) -> None:
    import requests

    state = requests.get(f"{emulator.base_url}/_emulator/state", timeout=10).json()
    print("\nThe emulator's view")
    runs = state.get("runs", [])
    print(f"  runs created: {len(runs)}")
    for run in runs:
        print(f"    {run.get('id')}  {run.get('taskIdentifier', ''):<18} {run.get('status')}")
    for env, variables in sorted(state.get("envvars", {}).items()):
        print(f"  env vars ({env}): {', '.join(sorted(variables)) or '-'}")
    for schedule in state.get("schedules", []):
        print(
            f"  schedule {schedule.get('id')}: {schedule.get('task')} "
            f"'{schedule.get('cron') or schedule.get('generator', {}).get('expression')}' "
            f"active={schedule.get('active')}"
        )


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="trigger-demo-"))
    try:
        with EmulatorServer(tasks=EXAMPLE_TASKS) as emulator:  # the example DAGs' tasks are deployed
            print(f"Trigger.dev emulator at {emulator.base_url} (project {emulator.project_ref})")
            _configure_airflow(home, emulator)
            ok = _run_dags(home / "dags")
            _print_emulator_view(emulator)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("\nAll example DAGs succeeded." if ok else "\nSome example DAGs FAILED.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
