"""Issue 11's figures: deferred waits by polling vs over shared realtime feeds, on the emulator, one run.

    uv run python benchmarks/realtime_bench.py [--waits 1000] [--spread 60] [--poll 5] [--single 60]

1. ``--waits`` deferred waits (``TriggerRunTrigger``, serialised and revived as the triggerer does) run
   in one event loop against runs finishing at random over ``--spread`` seconds (real time, not
   scaled): once with ``wait_mode="poll"`` (every ``--poll`` s), once with ``wait_mode="realtime"``
   (the runs carry their DAG run's tag, so the triggerer follows one shared tag feed). Requests sent
   (emulator request log), peak concurrent live requests (counted in the client), notice latency
   (event time - the run's ``finishedAt``) and traced memory per waiting trigger.
2. One wait for a ``--single`` s run: realtime (the run's own feed) vs polling every 5 s and 1 s,
   the three side by side in one loop.

The emulator runs in a subprocess and holds quiet live requests 20 s, as the real server does.
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
from typing import Any

os.environ.update(
    {
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="rt-bench-airflow-home-"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
)

import requests

from airflow_provider_trigger.client import TriggerClient

_EMULATOR = (
    "import json, threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer(lenient=True).start()\n"  # benchmarks fire thousands of requests: no rate limits
    "print(json.dumps({'url': s.base_url, 'key': s.secret_key}), flush=True)\n"
    "threading.Event().wait()\n"
)
TAG = "airflow:bench0000000000000000"
Row = tuple[str, str, str, str]


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
    """The emulator's ``/_emulator`` routes."""

    def __init__(self, info: dict[str, str]) -> None:
        self.url, self.key = info["url"], info["key"]
        self.http = requests.Session()
        os.environ["AIRFLOW_CONN_TRIGGER_DEFAULT"] = json.dumps(
            {"conn_type": "trigger", "host": self.url, "password": self.key}
        )

    def requests(self) -> list[dict[str, Any]]:
        log = self.http.get(f"{self.url}/_emulator/requests", timeout=120).json()
        return [r for r in log if r["path"].startswith(("/api/", "/realtime/"))]

    def clear(self) -> None:
        self.http.delete(f"{self.url}/_emulator/requests", timeout=10).raise_for_status()

    def reset(self) -> None:
        """Forget every run (a phase's feeds must not scan the previous phase's runs)."""
        self.http.post(f"{self.url}/_emulator/reset", timeout=30).raise_for_status()
        self.configure(realtimeHoldTimeout=20.0)  # production hold of a quiet live request
        self.task("bench-wait", duration=0.2, queueTime=0)

    def configure(self, **config: Any) -> None:
        self.http.patch(f"{self.url}/_emulator/config", json=config, timeout=10).raise_for_status()

    def task(self, name: str, **behaviour: Any) -> None:
        self.http.post(f"{self.url}/_emulator/tasks/{name}", json=behaviour, timeout=10).raise_for_status()


def start_runs(
    client: TriggerClient, n: int, lead: float, spread: float, tags: list[str], seed: int
) -> list[str]:
    """``n`` runs finishing at creation + lead + U(0, spread) s + 0.2 s (a delay, then 0.2 s of work)."""
    rng = random.Random(seed)
    now = datetime.now(UTC) + timedelta(seconds=lead)
    run_ids: list[str] = []
    for start in range(0, n, 1000):
        items = [
            {
                "payload": i,
                "options": {"delay": now + timedelta(seconds=rng.uniform(0, spread)), "tags": tags},
            }
            for i in range(start, min(n, start + 1000))
        ]
        run_ids += client.tasks.batch_trigger("bench-wait", items, wait_until_processed=120).run_ids
    return [str(r) for r in run_ids]


def revived(trigger: Any) -> Any:
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)(**json.loads(json.dumps(kwargs)))


async def run_waits(triggers: list[Any]) -> dict[str, Any]:
    """Run every trigger to its event in this loop; count live requests in flight; trace memory."""
    from airflow_provider_trigger.hooks import TriggerHook, close_async_clients

    client = await TriggerHook().get_async_client()
    http = client._transport.http
    live = {"now": 0, "peak": 0}

    started = time.time()

    async def on_request(request: Any) -> None:
        if request.url.params.get("live") == "true":
            live["now"] += 1
            live["peak"] = max(live["peak"], live["now"])
            request.extensions["live"] = True

    async def on_response(response: Any) -> None:
        if response.request.extensions.get("live"):
            live["now"] -= 1

    http.event_hooks["request"].append(on_request)
    http.event_hooks["response"].append(on_response)
    noticed: dict[str, float] = {}
    events: dict[str, dict[str, Any]] = {}

    async def run_one(trigger: Any) -> None:
        async for event in trigger.run():
            noticed[trigger.run_id] = time.time()
            events[trigger.run_id] = event.payload
            break

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(run_one(t)) for t in triggers]
    del triggers
    await asyncio.sleep(2.0)  # every wait registered / polled once and waiting
    gc.collect()
    waiting = len(tasks) - len(noticed)
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    await asyncio.gather(*tasks)
    await close_async_clients()
    return {
        "noticed": noticed,
        "events": events,
        "peak_live": live["peak"],
        "traced": traced,
        "waiting": waiting,
        "started": started,
    }


def finished_at(client: TriggerClient, run_ids: list[str]) -> dict[str, float]:
    wanted = set(run_ids)
    out: dict[str, float] = {}
    for run in client.runs.list(task_identifier="bench-wait", limit=100):
        if run.id in wanted and run.finished_at is not None:
            out[run.id] = run.finished_at.timestamp()
    return out


def many_waits(
    ctl: Control, client: TriggerClient, mode: str, n: int, lead: float, spread: float, poll: float
) -> dict[str, Any]:
    from airflow_provider_trigger.triggers.runs import TriggerRunTrigger

    ctl.reset()
    tags = [TAG] if mode == "realtime" else []
    run_ids = start_runs(client, n, lead, spread, tags, seed=11)
    triggers = [
        revived(TriggerRunTrigger(r, poll_interval=poll, wait_mode=mode, feed_tag=TAG if tags else None))
        for r in run_ids
    ]
    ctl.clear()
    result = asyncio.run(run_waits(triggers))
    sent = ctl.requests()
    done = finished_at(client, run_ids)
    late = sorted(result["noticed"][r] - done[r] for r in run_ids)
    # what polling every `poll` s sends when the server keeps up: one at the start, then one per
    # interval up to the first poll after the run finished
    ideal = sum(math.ceil(max(done[r] - result["started"], 0) / poll) + 1 for r in run_ids)
    return {
        "ideal_polls": ideal,
        **result,
        "requests": len(sent),
        "realtime_requests": sum(1 for r in sent if r["path"].startswith("/realtime/")),
        "statuses": sorted({e["status"] for e in result["events"].values()}),
        "p50": late[len(late) // 2],
        "p99": late[math.ceil(len(late) * 0.99) - 1],
        "max": late[-1],
    }


def single_waits(ctl: Control, client: TriggerClient, duration: float) -> dict[str, int]:
    from airflow_provider_trigger.triggers.runs import TriggerRunTrigger

    ctl.task("bench-single", duration=duration, queueTime=0.5)
    modes = {"realtime": ("realtime", 5.0), "poll 5 s": ("poll", 5.0), "poll 1 s": ("poll", 1.0)}
    runs = {name: str(client.tasks.trigger("bench-single", None).id) for name in modes}
    triggers = [
        revived(TriggerRunTrigger(runs[name], poll_interval=interval, wait_mode=mode))
        for name, (mode, interval) in modes.items()
    ]
    ctl.clear()
    asyncio.run(run_waits(triggers))
    sent = ctl.requests()
    return {name: sum(1 for r in sent if r["path"].endswith(run_id)) for name, run_id in runs.items()}


def per_wait(result: dict[str, Any]) -> float:
    """Traced KiB per trigger still waiting when memory was measured."""
    return float(result["traced"]) / max(int(result["waiting"]), 1) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=60.0)
    parser.add_argument("--lead", type=float, default=10.0, help="seconds before the first run finishes")
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--single", type=float, default=60.0)
    args = parser.parse_args()
    from airflow_provider_trigger.triggers.engine import feeds as _multiplexer

    rows: list[Row] = []
    with emulator_process() as info:
        ctl = Control(info)
        client = TriggerClient(ctl.key, base_url=ctl.url)
        res = {
            mode: many_waits(ctl, client, mode, args.waits, args.lead, args.spread, args.poll)
            for mode in ("poll", "realtime")
        }
        ctl.reset()
        single = single_waits(ctl, client, args.single) if args.single > 0 else {}
        client.close()
    poll, rt = res["poll"], res["realtime"]
    how = (
        f"{args.waits} TriggerRunTrigger (serialised + revived) in one loop; runs finish at "
        f"{args.lead:g} s + U(0,{args.spread:g}) s, real time; poll {args.poll:g} s; "
        f"realtime: one tag feed (one DAG run), live requests >= "
        f"{_multiplexer.SHARED_LIVE_INTERVAL:g} s apart, 20 s hold"
    )
    rows += [
        (
            "1. events (poll / realtime)",
            f"{len(poll['events'])} {poll['statuses']} / {len(rt['events'])} {rt['statuses']}",
            f"{args.waits} success",
            how,
        ),
        (
            "1. requests sent, poll",
            f"{poll['requests']:,} (server keeping up: {poll['ideal_polls']:,})",
            "",
            "emulator request log (/api + /realtime), wait phase; (): 1 + ceil(wait / poll) per run",
        ),
        (
            "1. requests sent, realtime",
            f"{rt['requests']:,} ({rt['requests'] / poll['requests']:.2%} / "
            f"{rt['requests'] / poll['ideal_polls']:.2%} of poll)",
            "<= 1 % of poll",
            f"{rt['realtime_requests']} of them /realtime; % of measured / keeping-up poll count",
        ),
        (
            "1. peak concurrent live requests",
            f"{rt['peak_live']}",
            "<= 10",
            "in flight with live=true, counted in the client",
        ),
        (
            "1. notice latency p50 / p99 / max, poll",
            f"{poll['p50']:.2f} / {poll['p99']:.2f} / {poll['max']:.2f} s",
            "",
            "event time - finishedAt",
        ),
        (
            "1. notice latency p50 / p99 / max, realtime",
            f"{rt['p50']:.2f} / {rt['p99']:.2f} / {rt['max']:.2f} s",
            "p99 <= 1 s",
            "event time - finishedAt",
        ),
        (
            "1. memory per waiting trigger, poll / realtime",
            f"{per_wait(poll):.1f} / {per_wait(rt):.1f} KiB",
            "",
            f"tracemalloc, {poll['waiting']} / {rt['waiting']} waiting after 2 s",
        ),
    ]
    if single:
        rows.append(
            (
                f"2. one wait, {args.single:g} s run: requests",
                " / ".join(f"{name} {count}" for name, count in single.items()),
                "realtime <= 10 (vs 12 at 5 s, 60 at 1 s)",
                "requests naming the run; realtime = the run's own feed, 20 s hold",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  {'goal':<{widths[2]}}  method")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


if __name__ == "__main__":
    main()
