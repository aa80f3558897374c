"""Figures of the deployment scenarios (issue 17): a real Airflow deployment under chaos.

``uv run python benchmarks/deployment.py`` starts one deployment (Postgres, the emulator, a
scheduler with LocalExecutor, a dag processor, two triggerers, an API server; see
``tests/deployment/harness.py``), runs the scenarios in order and prints one table row each:
tasks, successes, duplicate runs, cancelled runs, lost events, wall time. ``--only 2 6`` picks
scenarios; ``--waits`` sets scenario 7's deferred waits (default 200); ``--json`` prints details.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.deployment import scenarios
from tests.deployment.conftest import DAG_IDS
from tests.deployment.harness import Deployment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", type=int, default=[1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--waits", type=int, default=200, help="deferred waits in scenario 7")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds of API outage in scenario 7")
    parser.add_argument("--json", action="store_true", help="print each outcome's details as JSON")
    args = parser.parse_args(argv)
    runs: dict[int, Callable[[Deployment], scenarios.Outcome]] = {
        1: scenarios.every_example,
        2: scenarios.triggerer_killed,
        3: scenarios.triggerer_stalled,
        4: scenarios.worker_terminated,
        5: scenarios.user_marks_failed,
        6: scenarios.watcher_restarted,
        7: lambda dep: scenarios.emulator_outage(dep, waits=args.waits, outage=args.outage),
    }
    home = Path(tempfile.mkdtemp(prefix="airflow-deployment-bench-"))
    print("| scenario | tasks | successes | duplicate runs | cancelled runs | lost events | wall time |")
    print("|---|---|---|---|---|---|---|", flush=True)
    with Deployment.start(home) as dep:
        dep.wait_for_dags(DAG_IDS)
        for number in args.only:
            dep.restore()
            try:
                outcome = runs[number](dep)
            except Exception as exc:  # one broken scenario does not hide the others' figures
                print(f"| {number}. failed: {type(exc).__name__}: {str(exc)[:300]} | | | | | | |", flush=True)
                continue
            lost = "—" if outcome.lost_events is None else outcome.lost_events
            print(
                f"| {outcome.name} | {outcome.tasks} | {outcome.successes} | {outcome.duplicate_runs} "
                f"| {outcome.cancelled_runs} | {lost} | {outcome.wall_time:.0f} s |",
                flush=True,
            )
            if args.json:
                print(json.dumps(asdict(outcome), default=str), flush=True)
    print(f"(component logs were in {home / 'component-logs'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
