"""Client benchmark against the emulator (run in its own process, so client and server don't share a GIL).

    uv run python benchmarks/client_bench.py [--calls 2000] [--rounds 5] [--runs 10000]

Prints:
1. ``runs.retrieve`` calls/s over keep-alive, single thread: our client vs a bare ``requests.Session.get``
   on the same URL with the same headers, and our per-call overhead in percent (goal ≤ 15 %);
2. the requests needed to iterate 10,000 runs at page size 100 (goal 100, no trailing empty page), the
   requests to create them (10 batch triggers of 1,000 items: goal 20), and the peak memory while iterating.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import requests

from airflow_provider_trigger.client import TriggerClient

_SERVER = (
    "import threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer(lenient=True).start()\n"  # benchmarks fire thousands of requests: no rate limits
    "print(s.base_url, s.secret_key, flush=True)\n"
    "threading.Event().wait()\n"
)


def measure(fn: Callable[[], object], calls: int, rounds: int) -> tuple[float, float]:
    """(best calls/s by wall clock, best client-process CPU seconds per call) over ``rounds`` rounds.

    Wall time includes the server; CPU time of this process is the client's own cost, which is what
    the overhead figure compares (the server is the same for both variants).
    """
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return calls / best_wall, best_cpu / calls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url, key = server.stdout.readline().split()
        client = TriggerClient(key, base_url=base_url)
        sent: list[int] = [0]
        client._transport.session.hooks["response"].append(
            lambda r, *a, **k: sent.__setitem__(0, sent[0] + 1)
        )

        # 1. call throughput over keep-alive
        run_id = client.tasks.trigger("hello-world", {"bench": True}).id
        url = f"{base_url}/api/v3/runs/{run_id}"
        headers = dict(client._config.headers)
        bare = requests.Session()

        def ours() -> object:
            return client.runs.retrieve(run_id)

        def plain() -> object:
            return bare.get(url, headers=headers).content

        for fn in (ours, plain):
            measure(fn, 200, 1)  # warm up connections and caches
        rates = {"bare": 0.0, "ours": 0.0}
        cpu = {"bare": float("inf"), "ours": float("inf")}
        for _ in range(2):  # interleave to share any drift
            for name, fn in (("bare", plain), ("ours", ours)):
                rate, cost = measure(fn, args.calls, args.rounds)
                rates[name], cpu[name] = max(rates[name], rate), min(cpu[name], cost)
        wall_overhead = (rates["bare"] / rates["ours"] - 1) * 100
        overhead = (cpu["ours"] / cpu["bare"] - 1) * 100
        per_call_us = (cpu["ours"] - cpu["bare"]) * 1e6

        # 2. listing 10,000 runs at page size 100
        sent[0] = 0
        remaining = args.runs
        while remaining:
            size = min(1000, remaining)
            client.tasks.batch_trigger("bench-list", [{"payload": i} for i in range(size)])
            remaining -= size
        create_requests = sent[0]
        sent[0] = 0
        tracemalloc.start()
        page = client.runs.list(task_identifier="bench-list", limit=100)
        seen = 0
        page_sizes = []
        for p in page.iter_pages():
            page_sizes.append(len(p.data))
            seen += len(p.data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        list_requests = sent[0]
        sent[0] = 0
        auto_items = sum(1 for _ in client.runs.list(task_identifier="bench-list", limit=100))

        batches = -(-args.runs // 1000)
        rows = [
            ("bare requests.Session.get, calls/s (wall)", f"{rates['bare']:,.0f}", ""),
            ("client.runs.retrieve -> Run, calls/s (wall)", f"{rates['ours']:,.0f}", ""),
            ("wall-clock overhead vs bare", f"{wall_overhead:.1f} %", "<= 15 %"),
            (
                "client CPU per call: bare / ours",
                f"{cpu['bare'] * 1e6:,.0f} / {cpu['ours'] * 1e6:,.0f} us",
                "",
            ),
            ("client-side overhead (CPU)", f"{overhead:.1f} % (+{per_call_us:.0f} us/call)", "<= 15 %"),
            (
                f"requests to create {args.runs:,} runs ({batches} batch triggers)",
                str(create_requests),
                str(2 * batches),
            ),
            (
                f"requests to iterate {seen:,} runs at page size 100",
                str(list_requests),
                str(-(-args.runs // 100)),
            ),
            ("last page size (no trailing empty page)", str(page_sizes[-1]), "> 0"),
            ("items yielded by auto-pagination (for run in page)", f"{auto_items:,}", f"{args.runs:,}"),
            ("peak traced memory while walking pages", f"{peak / 1024:,.0f} KiB", "flat"),
        ]
        print("\n| figure | value | goal |\n|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print(
            f"\n(method: best of {args.rounds} rounds x {args.calls} calls, single thread, keep-alive; "
            "emulator in a separate process on 127.0.0.1; CPU = this process's time.process_time)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
