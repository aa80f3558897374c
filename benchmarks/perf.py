"""Issue 10's five performance figures, on the emulator, in one run, printed as one table.

    uv run python benchmarks/perf.py [--triggers 1000] [--poll-interval 10] [--figures 12345] [--quick]

1. ``runs.retrieve`` calls/s over keep-alive (single thread) and our overhead over a bare
   ``requests.Session.get``: on the emulator, and on a trivial canned-response server, which isolates
   the client's own per-call cost (the emulator's ~4 ms per request hides it).
2. 1,000 deferred ``TriggerRunSensor`` waits: each sensor defers (``TaskDeferred``), its trigger is
   serialized and revived as the triggerer does, and every ``trigger.run()`` runs in one event loop
   against 1,000 runs finishing at random times. Sockets, memory per waiting trigger, notice latency
   (event time - the run's ``finishedAt``) and requests per trigger per poll interval.
3. Listing 10,000 runs: requests, last page size, traced memory while walking.
4. ``TriggerEnvVarsSyncOperator`` with 500 variables: reads and writes per sync.
5. ``tasks.batch_trigger`` of 1,000 items: requests and how the NDJSON body goes on the wire.

The emulator runs in a subprocess (the machine has 2 cores; client and server must not share a GIL).
Request counts come from the emulator's request log (``/_emulator/requests``).
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
import timeit
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

_HOME = Path(tempfile.mkdtemp(prefix="perf-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the sensors' "execute outside the Task Runner" warning and 1,000 triggers' INFO lines
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
)

import psutil  # noqa: E402
import requests  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client_bench import measure  # noqa: E402

from airflow_provider_trigger.client import TriggerClient  # noqa: E402

Row = tuple[str, str, str, str]  # figure, value, goal, method

_EMULATOR = (
    "import json, threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer(lenient=True).start()\n"  # benchmarks fire thousands of requests: no rate limits
    "print(json.dumps({'url': s.base_url, 'key': s.secret_key, 'project': s.project_ref}), flush=True)\n"
    "threading.Event().wait()\n"
)
_CANNED = (  # one write per response, no Nagle: a server that costs next to nothing per request
    "import socket, sys\n"
    "from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n"
    "body = sys.stdin.buffer.read()\n"
    "head = b'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n'\n"
    "reply = head % len(body) + body\n"
    "class H(BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    disable_nagle_algorithm = True\n"
    "    def do_GET(self):\n"
    "        self.wfile.write(reply)\n"
    "    def log_message(self, *a): pass\n"
    "srv = ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n"
)


@contextmanager
def subprocess_server(code: str, stdin: bytes | None = None) -> Iterator[str]:
    """Start ``python -c code``; yield the first line it prints; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(stdin or b"")
        proc.stdin.close()
        yield proc.stdout.readline().decode().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Emulator:
    """Control of the emulator subprocess over its ``/_emulator`` routes."""

    def __init__(self, line: str) -> None:
        info = json.loads(line)
        self.url, self.key, self.project = info["url"], info["key"], info["project"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.http = requests.Session()

    def requests(self, prefix: str = "/api/") -> list[dict[str, Any]]:
        log = self.http.get(f"{self.url}/_emulator/requests", timeout=60).json()
        return [r for r in log if r["path"].startswith(prefix)]

    def clear(self) -> None:
        self.http.delete(f"{self.url}/_emulator/requests", timeout=10).raise_for_status()

    def task(self, name: str, **behaviour: Any) -> None:
        self.http.post(f"{self.url}/_emulator/tasks/{name}", json=behaviour, timeout=10).raise_for_status()

    def use_as_connection(self) -> None:
        conn = {"conn_type": "trigger", "host": self.url, "password": self.key}
        os.environ["AIRFLOW_CONN_TRIGGER_DEFAULT"] = json.dumps(
            {**conn, "extra": {"project_ref": self.project}}
        )


# -- 1. call throughput -------------------------------------------------------------------------------


def throughput(emu: Emulator, block: int, blocks: int) -> list[Row]:
    client = TriggerClient(emu.key, base_url=emu.url)
    run_id = client.tasks.trigger("perf-call", {"bench": True}).id
    headers = dict(client._config.headers)
    bare = requests.Session()
    canned = bare.get(f"{emu.url}/api/v3/runs/{run_id}", headers=headers).content
    rows: list[Row] = []
    with subprocess_server(_CANNED, canned) as port:
        canned_client = TriggerClient(emu.key, base_url=f"http://127.0.0.1:{port}")
        for where, ours_client, url in (
            ("emulator", client, f"{emu.url}/api/v3/runs/{run_id}"),
            ("canned server", canned_client, f"http://127.0.0.1:{port}/api/v3/runs/{run_id}"),
        ):
            fns = {
                "bare": lambda url=url: bare.get(url, headers=headers).content,
                "ours": lambda c=ours_client: c.runs.retrieve(run_id),
            }
            for fn in fns.values():
                measure(fn, 200, 1)  # warm up connections and caches
            rate = {"bare": 0.0, "ours": 0.0}
            cpu = {"bare": math.inf, "ours": math.inf}
            for _ in range(blocks):  # small interleaved blocks, best kept: filters other load
                for name, fn in fns.items():
                    r, c = measure(fn, block, 1)
                    rate[name], cpu[name] = max(rate[name], r), min(cpu[name], c)
            wall_pct = (rate["bare"] / rate["ours"] - 1) * 100
            wall_us = (1 / rate["ours"] - 1 / rate["bare"]) * 1e6
            cpu_pct = (cpu["ours"] / cpu["bare"] - 1) * 100
            cpu_us = (cpu["ours"] - cpu["bare"]) * 1e6
            how = f"best of {blocks} interleaved blocks of {block} calls, 1 thread, keep-alive, {where}"
            rows += [
                (
                    f"1. retrieve calls/s, bare / ours ({where})",
                    f"{rate['bare']:,.0f} / {rate['ours']:,.0f}",
                    "",
                    how,
                ),
                (
                    f"1. wall overhead vs bare ({where})",
                    f"{wall_pct:+.1f} % ({wall_us:+.0f} us/call)",
                    "<= 15 %",
                    how,
                ),
                (
                    f"1. client CPU overhead vs bare ({where})",
                    f"{cpu_pct:+.1f} % ({cpu_us:+.0f} us/call; bare {cpu['bare'] * 1e6:,.0f} us)",
                    "<= 15 %",
                    "time.process_time of this process only (server excluded)",
                ),
            ]
    rows.append(client_code_cost(client, canned))
    client.close()
    bare.close()
    return rows


def client_code_cost(client: TriggerClient, body: bytes) -> Row:
    """Our code alone for one ``runs.retrieve``: describe, prepare (headers, key) and finish (parse)."""
    from airflow_provider_trigger.client._core import finish, prepare
    from airflow_provider_trigger.client.resources.runs import Runs

    build, config = Runs.__dict__["retrieve"]._build, client._config
    headers = {"content-type": "application/json", "content-length": str(len(body))}

    def one() -> object:
        request = build(client.runs, "run_abc")
        return finish(prepare(config, request), request, 200, headers, body, 1)

    per_call = min(timeit.repeat(one, number=5000, repeat=5)) / 5000 * 1e6
    return (
        "1. our client code per call, no I/O",
        f"{per_call:.0f} us",
        "",
        "timeit of request description + prepare() + finish() incl. JSON + pydantic Run (best of 5x5000)",
    )


# -- 2. deferred waits at scale -----------------------------------------------------------------------


def defer_sensors(emu: Emulator, run_ids: list[str], poll: float) -> list[tuple[str, dict[str, Any]]]:
    """Each sensor pokes once then defers, as in a worker; keep only what the triggerer receives."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_trigger.sensors.runs import TriggerRunSensor

    serialized = []
    for i, run_id in enumerate(run_ids):  # a run that already finished returns at the poke (counted)
        sensor = TriggerRunSensor(
            task_id=f"wait_{i}",
            run_id=run_id,
            deferrable=True,
            wait_mode="poll",  # the polling path; realtime waits are measured separately
            poke_interval=poll,
            timeout=3600,
        )
        try:
            sensor.execute({})  # type: ignore[arg-type]
        except TaskDeferred as deferred:
            serialized.append(deferred.trigger.serialize())
        finally:
            sensor.hook.client.close()  # the worker process would exit here
    return serialized


def revive(classpath: str, kwargs: dict[str, Any]) -> Any:
    module, name = classpath.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)(**kwargs)


def emulator_sockets(port: int) -> int:
    return sum(1 for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port)


async def start_triggers(serialized: list[tuple[str, dict[str, Any]]], record: dict[str, Any]) -> list[Any]:
    """Revive every trigger and run it as the triggerer's ``run_trigger`` does (first event wins)."""

    async def run_one(trigger: Any) -> None:
        async for event in trigger.run():
            record[trigger.run_id] = (time.time(), event.payload)
            break

    return [asyncio.create_task(run_one(revive(*s))) for s in serialized]


async def all_polled_once(sent: list[int], target: int) -> None:
    while sent[0] < target:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)


async def run_triggers(
    emu: Emulator, serialized: list[tuple[str, dict[str, Any]]], warmup: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    """Phase A (tracemalloc on): memory of n waiting triggers, then cancel them. Phase B (tracing off):
    n new triggers on the same runs until every run finished: latency, sockets, requests."""
    from airflow_provider_trigger.hooks import TriggerHook, close_async_clients

    async for _ in revive(*warmup).run():  # imports, the shared client and its first connection
        break
    client = await TriggerHook().get_async_client()
    http = client._transport.http
    sent = [0]

    async def count(_: Any) -> None:
        sent[0] += 1

    http.event_hooks["response"].append(count)
    n, process = len(serialized), psutil.Process()

    gc.collect()
    rss0 = process.memory_info().rss
    tracemalloc.start()
    base, sent[0] = tracemalloc.get_traced_memory()[0], 0
    tasks = await start_triggers(serialized, {})
    await all_polled_once(sent, n)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - base
    rss = process.memory_info().rss - rss0 - tracemalloc.get_tracemalloc_memory()
    tracemalloc.stop()
    waiting = sum(1 for t in tasks if not t.done())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    del tasks

    record: dict[str, Any] = {}
    max_sockets = [emulator_sockets(emu.port)]
    started, sent[0] = time.time(), 0
    tasks = await start_triggers(serialized, record)
    await all_polled_once(sent, n)
    first_poll_s = time.time() - started
    while not all(t.done() for t in tasks):
        max_sockets[0] = max(max_sockets[0], emulator_sockets(emu.port))
        await asyncio.sleep(0.25)
    result = {
        "started": started,
        "record": record,
        "waiting": waiting,
        "traced": traced,
        "rss": rss,
        "first_poll_s": first_poll_s,
        "max_sockets": max_sockets[0],
        "pool_limit": cast(Any, http._transport)._pool._max_connections,  # httpx internals
        "shared_clients": len({id(await TriggerHook().get_async_client()) for _ in range(3)}),
    }
    await close_async_clients()
    return result


def deferred_waits(emu: Emulator, n: int, poll: float, spread: tuple[float, float]) -> list[Row]:
    emu.use_as_connection()
    emu.task("perf-wait", duration=0.2, queueTime=0)
    setup = TriggerClient(emu.key, base_url=emu.url)
    warm_run = setup.tasks.trigger("perf-wait", None).id
    now = datetime.now(UTC)
    rng = random.Random(10)
    run_ids: list[str] = []
    for start in range(0, n, 1000):  # finish = creation + a random delay in `spread` + 0.2 s
        items = [
            {"payload": i, "options": {"delay": now + timedelta(seconds=rng.uniform(*spread))}}
            for i in range(start, min(n, start + 1000))
        ]
        run_ids += setup.tasks.batch_trigger("perf-wait", items, wait_until_processed=120).run_ids
    serialized = defer_sensors(emu, run_ids, poll)
    finished_at_poke = n - len(serialized)
    run_ids = [kwargs["run_id"] for _, kwargs in serialized]
    warmup = (serialized[0][0], {**serialized[0][1], "run_id": warm_run})
    emu.clear()
    setup.close()  # only the triggers' sockets stay open
    emu.http.close()
    result = asyncio.run(run_triggers(emu, serialized, warmup))
    polls = [
        r for r in emu.requests("/api/v3/runs/") if r["method"] == "GET" and r["time"] >= result["started"]
    ]
    finished = {
        run.id: run.finished_at.timestamp()
        for run in setup.runs.list(task_identifier="perf-wait", limit=100)
        if run.finished_at is not None
    }
    setup.close()
    record, started = result["record"], result["started"]
    late = sorted(record[r][0] - finished[r] for r in run_ids)
    p50, p99, worst = late[len(late) // 2], late[math.ceil(len(late) * 0.99) - 1], late[-1]
    statuses = sorted({payload["status"] for _, payload in record.values()})
    by_run: dict[str, list[float]] = {}
    for r in polls:
        by_run.setdefault(r["path"].rsplit("/", 1)[1], []).append(r["time"])
    ideal = sum(math.floor((record[r][0] - started) / poll) + 1 for r in run_ids)
    actual = sum(len(by_run.get(r, [])) for r in run_ids)
    gaps = [b - a for t in by_run.values() for a, b in zip(sorted(t), sorted(t)[1:], strict=False)]
    how = (
        f"{n} TriggerRunSensor(deferrable, wait_mode='poll') -> TaskDeferred -> serialize -> revive -> "
        f"run() in one asyncio loop; runs finish at creation + U{spread} s; poll_interval {poll:g} s; "
        "emulator in a subprocess"
    )
    if finished_at_poke:
        how += f"; {finished_at_poke} runs finished before their sensor poked"
    return [
        (
            "2. deferred / events fired / statuses",
            f"{len(run_ids)} / {len(record)} / {statuses}",
            f"{n} / {n} / ['success']",
            how,
        ),
        (
            "2. shared clients / max sockets to emulator",
            f"{result['shared_clients']} / {result['max_sockets']}",
            f"1 / <= pool ({result['pool_limit']})",
            "psutil net_connections of this process to the emulator port, sampled every 0.25 s",
        ),
        (
            "2. memory per waiting trigger",
            f"{result['traced'] / n / 1024:.1f} KiB traced, {result['rss'] / n / 1024:.1f} KiB RSS",
            "<= 50 KB",
            f"(tracemalloc / RSS minus tracemalloc's own) delta / {n}, all {result['waiting']} "
            "waiting after one poll each (separate pass, then canceled); trigger, hook, task, last Run",
        ),
        (
            "2. first poll of all triggers done after",
            f"{result['first_poll_s']:.1f} s",
            "",
            "all triggers start at once; the pool of 10 serves the burst",
        ),
        (
            "2. completion noticed after finish, p50 / p99 / max",
            f"{p50:.2f} / {p99:.2f} / {worst:.2f} s",
            f"p99 <= {poll + 1:g} s",
            "event time - the run's finishedAt (same host clock, ms precision)",
        ),
        (
            "2. retrieve requests: sent / 1 per trigger per interval",
            f"{actual} / {ideal} ({actual / ideal:.2f}x)",
            "~1.0x, no more",
            "emulator log; ideal = sum over triggers of floor(wait / poll) + 1",
        ),
        (
            "2. shortest gap between two polls of one run",
            f"{min(gaps):.2f} s" if gaps else "n/a",
            f">= {poll:g} s",
            "emulator log timestamps",
        ),
    ]


# -- 3. listing ---------------------------------------------------------------------------------------


def listing(emu: Emulator, total: int, page_size: int) -> list[Row]:
    client = TriggerClient(emu.key, base_url=emu.url)
    emu.clear()
    for start in range(0, total, 1000):
        items = [{"payload": i} for i in range(start, min(total, start + 1000))]
        client.tasks.batch_trigger("perf-list", items)
    creates = len(emu.requests())
    emu.clear()
    tracemalloc.start()
    seen, samples, last = 0, [], 0
    for page in client.runs.list(task_identifier="perf-list", limit=page_size).iter_pages():
        seen, last = seen + len(page.data), len(page.data)
        if seen % (total // 5) < page_size:
            samples.append(tracemalloc.get_traced_memory()[0] / 1024)
        del page
    peak = tracemalloc.get_traced_memory()[1] / 1024
    tracemalloc.stop()
    sent = len(emu.requests("/api/v1/runs"))
    client.close()
    expected = math.ceil(total / page_size)
    return [
        (
            f"3. requests to create {total:,} runs",
            str(creates),
            str(2 * math.ceil(total / 1000)),
            "batch_trigger x 1,000",
        ),
        (
            f"3. requests to iterate {seen:,} runs (page size {page_size})",
            str(sent),
            f"{expected} = ceil({total:,}/{page_size})",
            "emulator log, GET /api/v1/runs",
        ),
        ("3. last page size (no trailing empty page)", str(last), "> 0", "iter_pages()"),
        (
            "3. traced memory at each fifth / peak",
            " / ".join(f"{s:,.0f}" for s in samples) + f" / {peak:,.0f} KiB",
            "flat",
            "tracemalloc while walking pages, nothing kept",
        ),
    ]


# -- 4. env-var sync ----------------------------------------------------------------------------------


def envvar_sync(emu: Emulator, count: int) -> list[Row]:
    from airflow_provider_trigger.operators.envvars import TriggerEnvVarsSyncOperator

    emu.use_as_connection()
    desired = {f"PERF_VAR_{i:04d}": f"value-{i}" for i in range(count)}

    def sync(variables: dict[str, str]) -> tuple[int, int]:
        emu.clear()
        TriggerEnvVarsSyncOperator(task_id="sync", variables=variables).execute({})  # type: ignore[arg-type]
        log = emu.requests("/api/v1/projects/")
        reads = sum(1 for r in log if r["method"] == "GET")
        return reads, len(log) - reads

    first = sync(desired)
    changed = sync({**desired, **{f"PERF_VAR_{i:04d}": f"new-{i}" for i in range(0, count, 50)}})
    same = sync({**desired, **{f"PERF_VAR_{i:04d}": f"new-{i}" for i in range(0, count, 50)}})
    how = "TriggerEnvVarsSyncOperator.execute; emulator log under /api/v1/projects/"
    return [
        (f"4. sync {count} new vars: reads + writes", f"{first[0]} + {first[1]}", "1 + 1", how),
        (f"4. sync {count} vars, {count // 50} changed", f"{changed[0]} + {changed[1]}", "1 + 1", how),
        (f"4. sync {count} vars, none changed", f"{same[0]} + {same[1]}", "1 + 0", how),
    ]


# -- 5. batch trigger ---------------------------------------------------------------------------------


def batch_trigger(emu: Emulator, count: int) -> list[Row]:
    client = TriggerClient(emu.key, base_url=emu.url)
    emu.clear()
    result = client.tasks.batch_trigger("perf-batch", [{"payload": {"i": i}} for i in range(count)])
    log = emu.requests()
    client.close()
    stream = log[-1]
    chunked = stream["headers"].get("transfer-encoding") == "chunked"
    lines = stream["body"].count("\n")
    return [
        (
            f"5. batch trigger {count} items: requests",
            f"{len(log)} ({', '.join(r['method'] + ' ' + r['path'].replace(result.id, 'ID') for r in log)})",
            "2",
            "emulator log",
        ),
        (
            "5. items body on the wire",
            f"{lines} NDJSON lines, {'chunked (streamed from a generator)' if chunked else 'one block'}, "
            f"content-length {stream['headers'].get('content-length', 'none')}",
            "streamed",
            "requests sends an iterator body with Transfer-Encoding: chunked",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--block", type=int, default=100, help="calls per timed block (figure 1)")
    parser.add_argument("--blocks", type=int, default=20, help="interleaved blocks per variant")
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=10.0)
    parser.add_argument("--spread", type=float, nargs=2, default=(50.0, 110.0), help="run finish window (s)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--figures", default="12345", help="which figures to run, e.g. 15")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.triggers, args.runs = 3, 50, 1000
        args.poll_interval, args.spread = 2.0, (15.0, 25.0)
    rows: list[Row] = []
    with subprocess_server(_EMULATOR) as line:
        emu = Emulator(line)
        if "1" in args.figures:
            rows += throughput(emu, args.block, args.blocks)
        if "2" in args.figures:
            rows += deferred_waits(emu, args.triggers, args.poll_interval, tuple(args.spread))
        if "3" in args.figures:
            rows += listing(emu, args.runs, 100)
        if "4" in args.figures:
            rows += envvar_sync(emu, 500)
        if "5" in args.figures:
            rows += batch_trigger(emu, 1000)
    print("\n| figure | value | goal | method |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
