"""Issue 16's figures: waits ride out a Trigger.dev API incident, and the waiting code's size.

    uv run python benchmarks/incidents.py [--waits 1000] [--incident 45] [--poll-interval 5]

One run, one incident: every ``GET /api/v3/runs/{id}`` answers 503 for ``--incident`` seconds while
the runs finish. Waiting through it at the same time:

- ``--waits`` deferred waits (``TriggerRunTrigger``, polling) in one event loop, as in a triggerer;
- one worker-side wait (``TriggerTaskOperator``'s path: the engine's worker driver);
- one ``TriggerRunSensor`` in ``poke`` mode and one in ``reschedule`` mode (each poke a new try).

Printed: successes and error events, requests per second during the incident (the emulator's own
request log), how long after the incident each wait noticed its run had finished (goal: at most
``poll interval + 1 s``), and the line count of the waiting code before and after the engine.

The emulator runs in a subprocess, with production rate limits off (``lenient``): 1,000 waits polling
every 5 s are 200 requests per second, over production's REST budget; that budget is issue 19's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_HOME = Path(tempfile.mkdtemp(prefix="incident-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import Emulator, revive, subprocess_server  # noqa: E402

from airflow_provider_trigger.client import TriggerClient  # noqa: E402
from airflow_provider_trigger.hooks import close_async_clients  # noqa: E402
from airflow_provider_trigger.sensors.runs import TriggerRunSensor  # noqa: E402
from airflow_provider_trigger.triggers.engine.statuses import RunSet, RunWatch  # noqa: E402
from airflow_provider_trigger.triggers.engine.worker import wait_in_worker  # noqa: E402
from airflow_provider_trigger.triggers.runs import TriggerRunTrigger  # noqa: E402

_EMULATOR = (
    "import json, threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer(lenient=True).start()\n"
    "print(json.dumps({'url': s.base_url, 'key': s.secret_key, 'project': s.project_ref}), flush=True)\n"
    "threading.Event().wait()\n"
)
ROOT = Path(__file__).resolve().parents[1]
BEFORE = "b81a008"  # the last commit before the wait engine
PKG = "airflow_provider_trigger"
WAITING_FILES = [
    "triggers/runs.py",
    "sensors/runs.py",
    "operators/_base.py",
    "operators/tasks.py",
    "operators/batches.py",
    "operators/runs.py",
]
WAITING_BEFORE = ["triggers/_wait.py", "triggers/_multiplexer.py", *WAITING_FILES]


def lines_before(path: str) -> int:
    shown = subprocess.run(
        ["git", "show", f"{BEFORE}:{PKG}/{path}"], cwd=ROOT, capture_output=True, text=True
    )
    return len(shown.stdout.splitlines()) if shown.returncode == 0 else 0


def lines_now(path: Path) -> int:
    return sum(1 for _ in path.open())


def start_runs(emu: Emulator, n: int, finish_within: tuple[float, float]) -> list[str]:
    """``n`` runs that finish at evenly spread times inside ``finish_within`` seconds from now."""
    client = TriggerClient(emu.key, base_url=emu.url)
    low, high = finish_within
    tasks = 50  # durations spread over 50 tasks; runs of one task finish together
    for t in range(tasks):
        emu.task(f"incident-{t}", duration=low + (high - low) * t / (tasks - 1), queueTime=0)
    with client:
        return [str(client.tasks.trigger(f"incident-{i % tasks}", {"i": i}).id) for i in range(n)]


async def deferred_waits(run_ids: list[str], poll: float, record: dict[str, float]) -> dict[str, int]:
    async def one(run_id: str) -> str:
        trigger = revive(*TriggerRunTrigger(run_id, poll_interval=poll, wait_mode="poll").serialize())
        async for event in trigger.run():
            record[run_id] = time.time()
            return str(event.payload["status"])
        return "none"

    statuses = await asyncio.gather(*(one(r) for r in run_ids))
    await close_async_clients()
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def worker_wait(emu: Emulator, run_id: str, poll: float, out: dict[str, Any]) -> None:
    class Log:
        def info(self, *a: Any) -> None: ...
        def warning(self, msg: str, *a: Any) -> None:
            out.setdefault("warnings", []).append(msg % a)

    with TriggerClient(emu.key, base_url=emu.url) as client:
        result = wait_in_worker(
            client,
            RunSet([RunWatch(run_id, url=None, log=Log())]),
            poll_interval=poll,
            deadline=time.time() + 600,
            wait_mode="poll",
            log=Log(),
            what=f"run {run_id}",
        )
    out["status"], out["noticed"] = result.status, time.time()


def sensor_wait(run_id: str, mode: str, poll: float, out: dict[str, Any]) -> None:
    from airflow.providers.common.compat.sdk import PokeReturnValue

    sensor = TriggerRunSensor(
        task_id=f"sensor_{mode}", run_id=run_id, mode=mode, wait_mode="poll", poke_interval=poll, timeout=600
    )
    pokes = 0
    while True:  # each loop is one try in reschedule mode; poke mode loops inside execute()
        if mode == "poke":
            sensor.execute({})  # type: ignore[arg-type]
            break
        pokes += 1
        done = sensor.poke({})  # type: ignore[arg-type]
        if done:
            assert isinstance(done, PokeReturnValue)
            break
        time.sleep(poll)  # what AirflowRescheduleException would make the scheduler wait
    out["status"], out["noticed"], out["pokes"] = "success", time.time(), pokes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--incident", type=float, default=45.0)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    args = parser.parse_args()
    poll, span = args.poll_interval, args.incident

    with subprocess_server(_EMULATOR) as line:
        emu = Emulator(line)
        emu.use_as_connection()
        started = time.time()
        lead = 8.0  # the incident starts once every wait has polled at least once
        run_ids = start_runs(emu, args.waits + 3, (lead + 2, lead + span - 2))
        waits, worker_run, poke_run, resched_run = run_ids[: args.waits], *run_ids[args.waits :]
        worker: dict[str, Any] = {}
        poke: dict[str, Any] = {}
        resched: dict[str, Any] = {}
        threads = [
            threading.Thread(target=worker_wait, args=(emu, worker_run, poll, worker)),
            threading.Thread(target=sensor_wait, args=(poke_run, "poke", poll, poke)),
            threading.Thread(target=sensor_wait, args=(resched_run, "reschedule", poll, resched)),
        ]
        for thread in threads:
            thread.start()

        incident: dict[str, float] = {}

        def outage() -> None:
            time.sleep(max(0.0, started + lead - time.time()))
            emu.http.post(
                f"{emu.url}/_emulator/faults",
                json={"method": "GET", "path": "/api/v3/runs/*", "kind": 503, "count": None},
                timeout=10,
            ).raise_for_status()
            incident["start"] = time.time()
            time.sleep(span)
            emu.http.delete(f"{emu.url}/_emulator/faults", timeout=10).raise_for_status()
            incident["end"] = time.time()

        chaos = threading.Thread(target=outage)
        chaos.start()
        record: dict[str, float] = {}
        counts = asyncio.run(deferred_waits(waits, poll, record))
        chaos.join()
        for thread in threads:
            thread.join()
        log = emu.requests("/api/v3/runs/")
        during = [r for r in log if incident["start"] <= r["time"] <= incident["end"]]

    per_second: dict[int, int] = {}
    for r in during:
        second = int(r["time"] - incident["start"])
        per_second[second] = per_second.get(second, 0) + 1
    timeline = " ".join(str(per_second.get(i, 0)) for i in range(int(span) + 1))
    end = incident["end"]
    lag = sorted(max(0.0, t - end) for t in record.values())
    rows = [
        ("deferred waits", f"{args.waits}", "1,000 in one event loop"),
        ("  successes / error events", f"{counts.get('success', 0)} / {counts.get('error', 0)}", "all / 0"),
        ("  run reads during the incident", f"{len(during)} in {span:g} s = {len(during) / span:.1f}/s", ""),
        (
            "  noticed after the incident: p50 / max",
            f"{lag[len(lag) // 2]:.2f} / {lag[-1]:.2f} s",
            f"max ≤ {poll + 1:g} s",
        ),
        ("worker-side wait", f"{worker.get('status')}, noticed {worker['noticed'] - end:.2f} s after", ""),
        ("sensor, poke mode", f"{poke.get('status')}, noticed {poke['noticed'] - end:.2f} s after", ""),
        ("sensor, reschedule mode", f"{resched.get('status')} after {resched.get('pokes')} pokes", ""),
    ]
    before = {f: lines_before(f) for f in WAITING_BEFORE}
    after = {f: lines_now(ROOT / PKG / f) for f in WAITING_FILES}
    after |= {
        f"triggers/engine/{p.name}": lines_now(p)
        for p in sorted((ROOT / PKG / "triggers/engine").glob("*.py"))
    }
    print(f"\nIncident: every GET /api/v3/runs/* answered 503 for {span:g} s; poll interval {poll:g} s\n")
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value:<40} {goal}")
    print(f"\nRun reads per second of the incident: {timeline}")
    print(f"\nWaiting code, lines (whole files), before the engine ({BEFORE}): {sum(before.values())}")
    for name, count in before.items():
        print(f"  {name}: {count}")
    print(f"After: {sum(after.values())}")
    for name, count in after.items():
        print(f"  {name}: {count}")
    print(f"(wall time {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
