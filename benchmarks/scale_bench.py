"""Issue 19's figures: 10,000 deferred waits in 1,000 DAG runs over 3 triggerer processes, at
production's limits, for this design (one shared feed per process) and the one before it.

    uv run python benchmarks/scale_bench.py            # 1,000 DAG runs x 10 waits, both designs
    uv run python benchmarks/scale_bench.py --quick    # 30 DAG runs x 10 waits, spread 20 s

The emulator runs in its own process at production's limits: REST 750 burst + 250 per 10 s per
environment, realtime 10 concurrent live requests per environment (the Free plan), quiet live requests
held 20 s. Runs are created with the limits off (set-up is not measured), carrying the tags each
design puts on them: this design's ``FEED_TAG``, or before it the DAG run's ``airflow:<hash>``. Each
run is delayed so that the runs finish at random over ``--spread`` seconds (default 120 s: production's
10 minutes compressed 5x, so completions arrive 5x faster than in the issue's scenario; request rates are
not scaled). Then ``--processes`` OS processes each run their share of ``TriggerRunTrigger``s
(serialized and revived, as the triggerer does; waits assigned at random, so every process holds waits
of every DAG run) in one event loop, as Airflow's ``TriggerRunner`` would. The design before this one
is the code of ``--baseline`` (a git ref, extracted to a temporary directory and put first on the
children's ``PYTHONPATH``).

Figures: peak concurrent live realtime requests (server side, per environment), requests per second
(REST, which the environment meters, and realtime), 429s, completion noticed (trigger event time -
the run's ``finishedAt``) p50/p99, traced memory per wait (each process, from before the triggers are
built until they are all registered and the feed's initial sync is done), bytes of initial syncs
(non-live realtime responses), and a paper estimate for 100,000 waits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.update(
    {
        "AIRFLOW_HOME": os.environ.get("SCALE_BENCH_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="scale-bench-"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
)

import requests

REPO = Path(__file__).resolve().parent.parent
BASELINE = "c9d660b"
"""The wait engine merge: one feed per DAG-run tag, at most 5 per credentials, unbudgeted polling."""
TASK = "bench-wait"
_EMULATOR = (
    "import json, threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    f"s = EmulatorServer(tasks=[{TASK!r}]).start()\n"  # production's limits: nothing lenient
    "print(json.dumps({'url': s.base_url, 'key': s.secret_key}), flush=True)\n"
    "threading.Event().wait()\n"
)
PRODUCTION = {"rateLimit": {"burst": 750, "refill": 250, "interval": 10.0}, "realtimeLiveLimit": 10}


@contextmanager
def emulator_process() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-c", _EMULATOR], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Control:
    def __init__(self, info: dict[str, str]) -> None:
        self.url, self.key = info["url"], info["key"]
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}/_emulator{path}", timeout=300, **kwargs)
        response.raise_for_status()
        return response.json()

    def configure(self, **config: Any) -> None:
        self.call("PATCH", "/config", json=config)


def setup_runs(ctl: Control, design: str, dag_runs: int, per_run: int, lead: float, spread: float) -> Any:
    """Create the runs (limits off); the plan ``[[run id, feed tag], …]`` and when runs start finishing."""
    from airflow_provider_trigger.client import TriggerClient
    from airflow_provider_trigger.triggers.engine.realtime import FEED_TAG, dag_run_tag

    ctl.call("POST", "/reset")
    ctl.configure(rateLimit=None, batchRateLimit=None, realtimeHoldTimeout=20.0, listLag=0.0)
    ctl.call("POST", f"/tasks/{TASK}", json={"duration": 0.2, "queueTime": 0})
    rng = random.Random(19)
    base = datetime.now(UTC) + timedelta(seconds=lead)
    plan: list[list[str]] = []
    with TriggerClient(ctl.key, base_url=ctl.url) as client:
        pending: list[tuple[str, dict[str, Any]]] = []
        for d in range(dag_runs):
            tag = FEED_TAG if design == "new" else dag_run_tag("scale_bench", f"manual__{d}")
            for _ in range(per_run):
                delay = base + timedelta(seconds=rng.uniform(0, spread))
                pending.append((tag, {"payload": d, "options": {"delay": delay, "tags": [tag]}}))
        for start in range(0, len(pending), 1000):
            chunk = pending[start : start + 1000]
            ids = client.tasks.batch_trigger(TASK, [i for _, i in chunk], wait_until_processed=300).run_ids
            plan += [[str(r), tag] for r, (tag, _) in zip(ids, chunk, strict=True)]
    rng.shuffle(plan)
    ctl.configure(**PRODUCTION)  # the measured phase: production's limits, with full buckets
    ctl.call("DELETE", "/requests")
    ctl.call("DELETE", "/realtime")
    return plan, base.timestamp()


def baseline_tree(ref: str) -> str:
    where = tempfile.mkdtemp(prefix="scale-bench-baseline-")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "airflow_provider_trigger"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    return where


# -- one triggerer process -------------------------------------------------------------------------


def revived(trigger: Any) -> Any:
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)(**json.loads(json.dumps(kwargs)))


async def triggerer(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, say ready, wait for the plan; run this process's share of it as deferred waits."""
    from airflow_provider_trigger.hooks import TriggerHook, close_async_clients
    from airflow_provider_trigger.triggers.runs import TriggerRunTrigger

    client = await TriggerHook().get_async_client()
    Path(args.out + ".ready").touch()
    plan_file = Path(args.plan)
    while not plan_file.exists():
        await asyncio.sleep(0.1)
    mine = json.loads(plan_file.read_text())[args.child :: args.processes]
    seen = {"initial_bytes": 0, "initial_requests": 0, "rest": 0, "realtime": 0}

    async def on_response(response: Any) -> None:
        url = response.request.url
        if url.path.startswith("/realtime/"):
            seen["realtime"] += 1
            if url.params.get("live") != "true":
                seen["initial_requests"] += 1
                seen["initial_bytes"] += int(response.headers.get("content-length") or 0)
        else:
            seen["rest"] += 1

    client._transport.http.event_hooks["response"].append(on_response)
    noticed: dict[str, float] = {}
    statuses: dict[str, str] = {}

    async def run_one(trigger: Any) -> None:
        async for event in trigger.run():
            noticed[trigger.run_id] = time.time()
            statuses[trigger.run_id] = event.payload["status"]
            break

    def start(share: list[list[str]]) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(
                run_one(
                    revived(TriggerRunTrigger(r, poll_interval=args.poll, end_time=args.end_time, feed_tag=t))
                )
            )
            for r, t in share
        ]

    # memory per wait = the slope between half and all of the waits registered (fixed costs cancel out)
    t0 = time.time()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    half = len(mine) // 2
    tasks = start(mine[:half])
    await asyncio.sleep(args.settle / 2)
    gc.collect()
    first = tracemalloc.get_traced_memory()[0] - base
    tasks += start(mine[half:])
    await asyncio.sleep(args.settle / 2)
    gc.collect()
    second = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    settled, waiting = time.time(), len(tasks) - len(noticed)
    await asyncio.gather(*tasks)
    await close_async_clients()
    return {
        "noticed": noticed,
        "statuses": statuses,
        "traced": second,
        "slope": (second - first) / max(len(mine) - half, 1),
        "waiting": waiting,
        "t0": t0,
        "settled": settled,
        "end": time.time(),
        **seen,
    }


def child(args: argparse.Namespace) -> None:
    result = asyncio.run(triggerer(args))
    Path(args.out).write_text(json.dumps(result))


# -- the measurement -------------------------------------------------------------------------------


def measure(ctl: Control, design: str, args: argparse.Namespace, baseline: str | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"scale-bench-{design}-"))
    env = dict(os.environ)
    conn = {"conn_type": "trigger", "host": ctl.url, "password": ctl.key}
    env["AIRFLOW_CONN_TRIGGER_DEFAULT"] = json.dumps(conn)
    if baseline:
        env["PYTHONPATH"] = baseline + os.pathsep + env.get("PYTHONPATH", "")
    first_finish = time.time() + args.lead  # roughly; the set-up fixes it
    end_time = first_finish + args.spread + args.grace
    procs = [
        subprocess.Popen(
            [
                sys.executable, __file__, "--child", str(i), "--processes", str(args.processes),
                "--plan", str(work / "plan.json"), "--out", str(work / f"out{i}.json"),
                "--poll", str(args.poll), "--end-time", str(end_time), "--settle", str(args.settle),
            ],
            env=env,
        )
        for i in range(args.processes)
    ]  # fmt: skip
    while not all((work / f"out{i}.json.ready").exists() for i in range(args.processes)):
        time.sleep(0.2)  # the triggerers are up (Airflow imported, connection read)
    plan, first_finish = setup_runs(ctl, design, args.dag_runs, args.per_run, args.lead, args.spread)
    started = time.time()
    (work / "plan.tmp").write_text(json.dumps(plan))
    (work / "plan.tmp").rename(work / "plan.json")
    for proc in procs:
        proc.wait()
    ended = time.time()
    outs = [json.loads((work / f"out{i}.json").read_text()) for i in range(args.processes)]
    ctl.configure(rateLimit=None)  # reading the results is not measured
    log = ctl.call("GET", "/requests", params={"brief": "true"})
    stats = ctl.call("GET", "/realtime")
    finished = finished_at(ctl, {r for r, _ in plan})
    return summarise(design, outs, log, stats, finished, started, ended, len(plan), first_finish, args)


def finished_at(ctl: Control, wanted: set[str]) -> dict[str, float]:
    from airflow_provider_trigger.client import TriggerClient

    out: dict[str, float] = {}
    with TriggerClient(ctl.key, base_url=ctl.url) as client:
        for run in client.runs.list(task_identifier=TASK, limit=100):
            if run.id in wanted and run.finished_at is not None:
                out[run.id] = run.finished_at.timestamp()
    return out


def summarise(
    design: str,
    outs: list[dict[str, Any]],
    log: list[list[Any]],
    stats: dict[str, Any],
    finished: dict[str, float],
    started: float,
    ended: float,
    waits: int,
    first_finish: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    noticed = {r: t for o in outs for r, t in o["noticed"].items()}
    statuses: dict[str, int] = {}
    for o in outs:
        for s in o["statuses"].values():
            statuses[s] = statuses.get(s, 0) + 1
    late = sorted(noticed[r] - finished[r] for r in noticed if r in finished)
    rest = [e for e in log if e[1].startswith("/api/")]
    realtime = [e for e in log if e[1].startswith("/realtime/")]
    span = max(ended - started, 1e-9)

    def busiest(entries: list[list[Any]]) -> float:
        windows: dict[int, int] = {}
        for e in entries:
            windows[int(e[3] // 10)] = windows.get(int(e[3] // 10), 0) + 1
        return max(windows.values(), default=0) / 10

    return {
        "design": design,
        "waits": waits,
        "statuses": statuses,
        "peak_live": max(stats["peakLiveByEnv"].values(), default=0),
        "live_rejected": stats["rejected"],
        "rest_rate": len(rest) / span,
        "rest_peak": busiest(rest),
        "realtime_rate": len(realtime) / span,
        "rest": len(rest),
        "realtime": len(realtime),
        "r429": sum(1 for e in log if e[2] == 429),
        "p50": late[len(late) // 2] if late else math.nan,
        "p99": late[math.ceil(len(late) * 0.99) - 1] if late else math.nan,
        "max": late[-1] if late else math.nan,
        "kib_per_wait": sum(o["slope"] for o in outs) / len(outs) / 1024,
        "kib_per_wait_all_in": sum(o["traced"] for o in outs)
        / max(sum(o["waiting"] for o in outs), 1)
        / 1024,
        "waiting_at_memory": sum(o["waiting"] for o in outs),
        "initial_bytes": sum(o["initial_bytes"] for o in outs),
        "initial_requests": sum(o["initial_requests"] for o in outs),
        "span": span,
        "measured_after_first_finish": ended - first_finish,
        "children": [
            [
                o["t0"] - first_finish,
                o["settled"] - first_finish,
                o["end"] - first_finish,
                o["rest"],
                o["realtime"],
            ]
            for o in outs
        ],
    }


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    goals = {
        "events": "",
        "peak live realtime connections": "<= 3",
        "REST requests/s, mean (busiest 10 s)": "<= 2.5",
        "realtime requests/s, mean": "",
        "429 answers (REST + realtime)": "0",
        "completion noticed p50 / p99 / max": "p99 <= 2 s",
        "traced memory per wait": "<= 8 KiB",
        "initial sync: requests / bytes": "",
    }
    rows: dict[str, list[str]] = {k: [] for k in goals}
    for r in results:
        rows["events"].append(", ".join(f"{n} {s}" for s, n in sorted(r["statuses"].items())))
        rows["peak live realtime connections"].append(f"{r['peak_live']} ({r['live_rejected']} refused)")
        rows["REST requests/s, mean (busiest 10 s)"].append(f"{r['rest_rate']:.2f} ({r['rest_peak']:.1f})")
        rows["realtime requests/s, mean"].append(f"{r['realtime_rate']:.2f}")
        rows["429 answers (REST + realtime)"].append(f"{r['r429']:,}")
        rows["completion noticed p50 / p99 / max"].append(
            f"{r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} s"
        )
        rows["traced memory per wait"].append(
            f"{r['kib_per_wait']:.1f} KiB (all-in {r['kib_per_wait_all_in']:.1f})"
        )
        rows["initial sync: requests / bytes"].append(f"{r['initial_requests']:,} / {r['initial_bytes']:,}")
    names = [f"{r['design']} ({r['waits']:,} waits)" for r in results]
    widths = [
        max(len(k) for k in rows),
        *(max(len(n), *(len(v[i]) for v in rows.values())) for i, n in enumerate(names)),
        10,
    ]
    print(
        f"\n{args.dag_runs:,} DAG runs x {args.per_run} waits, {args.processes} triggerer processes, runs "
        f"finishing over {args.spread:g} s (production's 600 s compressed {600 / args.spread:.1f}x), "
        f"poll {args.poll:g} s; emulator at REST 750 + 25/s, realtime 10 live per environment, 20 s hold\n"
    )
    print("  ".join(h.ljust(w) for h, w in zip(["figure", *names, "goal"], widths, strict=True)))
    for k, values in rows.items():
        print("  ".join(c.ljust(w) for c, w in zip([k, *values, goals[k]], widths, strict=True)))
    new = next((r for r in results if r["design"] == "new"), None)
    if new:
        scale = 100_000 / new["waits"]
        print(
            f"\n100,000 waits (paper, from the 'new' column): live connections stay {new['peak_live']} "
            f"(one per process); REST polling stays at most the budget (2.5/s per process) and is "
            f"{new['rest_rate']:.2f}/s measured when every run is in the feed; realtime requests grow "
            f"with changes per feed, not waits (~1 per {0.8:g} s per process while runs change); memory "
            f"{new['kib_per_wait'] * 100_000 / 1024:.0f} MiB in all ({new['kib_per_wait']:.1f} KiB x "
            f"100,000); initial sync {new['initial_bytes'] * scale / 2**20:.0f} MiB in all "
            f"({new['initial_bytes'] / new['waits'] / max(args.processes, 1):.0f} B per run per process; "
            f"each process syncs every tagged run in its window)."
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dag-runs", type=int, default=1000)
    parser.add_argument("--per-run", type=int, default=10, help="waits (runs) per DAG run")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--spread", type=float, default=120.0, help="seconds over which runs finish")
    parser.add_argument("--lead", type=float, default=150.0, help="seconds from set-up to the first finish")
    parser.add_argument("--grace", type=float, default=90.0, help="deadline: last finish + this")
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds before memory is measured")
    parser.add_argument("--design", choices=["new", "today", "both"], default="both")
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the design before this one")
    parser.add_argument("--quick", action="store_true", help="30 DAG runs, spread 20 s")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--end-time", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args)
        return
    if args.quick:
        args.dag_runs, args.spread, args.lead, args.grace, args.settle = 30, 20.0, 15.0, 30.0, 8.0
    designs = ["new", "today"] if args.design == "both" else [args.design]
    results = []
    with emulator_process() as info:
        ctl = Control(info)
        for design in designs:
            baseline = baseline_tree(args.baseline) if design == "today" else None
            results.append(measure(ctl, design, args, baseline))
            print(json.dumps(results[-1]), flush=True)
    table(results, args)


if __name__ == "__main__":
    main()
