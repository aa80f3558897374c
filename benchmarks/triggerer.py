"""Is the provider a good citizen in a shared triggerer? (issue 17)

Starts a real deployment with ONE triggerer (see ``tests/deployment/harness.py``), lets the asset
watcher of ``chaos_on_event`` run in it, then defers ``--waits`` task instances (``chaos_deferred``)
whose Trigger.dev runs last long enough to be waited on, and reports:

- Airflow's "Triggerer's async thread was blocked for …" warnings in the triggerer's log (from the
  moment the watcher runs; the first trigger start, which imports the provider, counted separately);
- start-to-first-answer latency of each wait: from Airflow's "trigger … starting" line to the wait's
  first "Trigger.dev run … is <STATUS>" line, both in the trigger's own log (p50, p99, max), once
  while the waits start one by one (as their tasks defer) and once when the triggerer is killed and a
  new one adopts every wait at once (failover: the burst that delayed starts by seconds);
- memory per wait: the triggerer's resident memory (its process group) with the waits running minus
  before them, divided by the number of waits.

``uv run python benchmarks/triggerer.py --waits 1000`` (the worker has to start every task twice, so
on 2 cores 1,000 waits take a while; ``--waits 200`` is a quick look).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.deployment.harness import Deployment

BLOCKED = re.compile(r"async thread was blocked for ([0-9.]+) seconds")


def group_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants (the triggerer and its trigger runner)."""
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def _events(path: Path) -> list[tuple[datetime, str]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        out.append((datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")), str(record["event"])))
    return out


def start_latencies(logs: Path, dag_id: str, job_id: int) -> list[float]:
    """Seconds from each trigger's start to its first answer in triggerer job ``job_id``, from the
    trigger log files (``attempt=1.log.trigger.<job id>.log``)."""
    latencies = []
    for path in logs.glob(f"dag_id={dag_id}/**/*.trigger.{job_id}.log"):
        events = _events(path)
        start = next((t for t, e in events if e.startswith("trigger ") and e.endswith("starting")), None)
        first = next((t for t, e in events if e.startswith("Trigger.dev run ") and " is " in e), None)
        if start is not None and first is not None:
            latencies.append((first - start).total_seconds())
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _longest(values: list[float]) -> str:
    return f" (longest {max(values):.2f} s)" if values else ""


def _pcts(values: list[float]) -> str:
    if not values:
        return "no data |"
    return (
        f"{len(values)} waits | p50 {pct(values, 0.5):.2f} s, p99 {pct(values, 0.99):.2f} s, "
        f"max {max(values):.2f} s, mean {statistics.fmean(values):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to watch once all are deferred")
    parser.add_argument(
        "--asyncio-debug", action="store_true", help="PYTHONASYNCIODEBUG=1: name the slow callbacks"
    )
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="airflow-triggerer-bench-"))
    env = {"PYTHONASYNCIODEBUG": "1"} if args.asyncio_debug else {}
    with Deployment.start(home, triggerers=1, triggerer_env=env) as dep:
        dep.wait_for_dags(["chaos_deferred", "chaos_on_event"])
        triggerer = dep.components["triggerer-1"]
        asset = dep.asset_id("chaos_watched")
        dep.wait_until_watching(asset)
        dep.start_runs("chaos-event", 3)  # the watcher has something to announce
        # long enough to outlast the slowest worker start of the last task
        dep.emulator("POST", "tasks/chaos-wait", {"duration": 600 + args.waits})
        warnings_before = len(BLOCKED.findall(triggerer.log_text()))
        rss_before = group_rss(triggerer.pid)
        started = time.monotonic()
        run = dep.trigger("chaos_deferred", {"waits": args.waits})
        deadline = time.monotonic() + 3 * 3600
        while time.monotonic() < deadline:
            deferred = list(dep.task_states(run).values()).count("deferred")
            if deferred >= args.waits and None not in dep.triggers_by_triggerer():
                break
            time.sleep(5)
        all_deferred = time.monotonic() - started
        time.sleep(args.hold)
        rss_after = group_rss(triggerer.pid)
        blocked = [float(s) for s in BLOCKED.findall(triggerer.log_text())]
        during = blocked[warnings_before:]
        gradual = start_latencies(dep.home / "logs", "chaos_deferred", dep.triggerer_jobs["triggerer-1"])
        # failover: the triggerer dies and a new one adopts every wait at once
        triggerer.signal(signal.SIGKILL)
        earlier = len(BLOCKED.findall(triggerer.log_text()))  # the new one appends to the same log
        replacement = dep.start_triggerer(1)
        job = dep.triggerer_jobs["triggerer-1"]
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            burst = start_latencies(dep.home / "logs", "chaos_deferred", job)
            if len(burst) >= args.waits:
                break
            time.sleep(5)
        time.sleep(args.hold)
        burst = start_latencies(dep.home / "logs", "chaos_deferred", job)
        adopted_blocked = [float(s) for s in BLOCKED.findall(replacement.log_text())][earlier:]
        print(f"| waits | {args.waits} (all deferred after {all_deferred:.0f} s) |")
        print("|---|---|")
        print(f"| blocked-loop warnings before the waits (watcher running) | {warnings_before} |")
        one_by_one = f"{len(during)}{_longest(during)}"
        print(f"| blocked-loop warnings while {args.waits} waits start one by one | {one_by_one} |")
        print(f"| start-to-first-answer, waits starting one by one: {_pcts(gradual)} |")
        print(
            f"| blocked-loop warnings in a new triggerer adopting all {args.waits} at once | "
            f"{len(adopted_blocked)}{_longest(adopted_blocked)} |"
        )
        print(f"| start-to-first-answer, all adopted at once: {_pcts(burst)} |")
        print(
            f"| triggerer memory per wait (RSS of its process group) | "
            f"{(rss_after - rss_before) / args.waits / 1024:.1f} KiB |"
        )
        if args.asyncio_debug:
            slow = re.findall(r"Executing (<.{0,300}?) took ([0-9.]+) seconds", triggerer.log_text())
            for where, seconds in sorted(slow, key=lambda s: -float(s[1]))[:15]:
                print(f"slow callback {seconds} s: {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
