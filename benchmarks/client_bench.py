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
    "s = EmulatorServer().start()\n"
    "print(s.base_url, s.secret_key, flush=True)\n"
    "threading.Event().wait()\n"
)


def best_rate(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Best calls/s over ``rounds`` rounds of ``calls`` calls (best-of filters scheduler noise)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return calls / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        client._transport.session.hooks["response"].append(lambda r, *a, **k: sent.__setitem__(0, sent[0] + 1))

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
            best_rate(fn, 200, 1)  # warm up connections and caches
        rates = {"bare": 0.0, "ours": 0.0}
        for _ in range(2):  # interleave to share any drift
            rates["bare"] = max(rates["bare"], best_rate(plain, args.calls, args.rounds))
            rates["ours"] = max(rates["ours"], best_rate(ours, args.calls, args.rounds))
        overhead = (1 / rates["ours"] - 1 / rates["bare"]) / (1 / rates["bare"]) * 100
        per_call_us = (1 / rates["ours"] - 1 / rates["bare"]) * 1e6

        # 2. listing 10,000 runs at page size 100
        sent[0] = 0
        remaining = args.runs
        while remaining:
            size = min(1000, remaining)
            client.tasks.batch_trigger("bench-list", [{"payload": i} for i in range(size)], fetch_run_ids=False)
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

        print()
        print("| figure | value | goal |")
        print("|---|---|---|")
        print(f"| bare requests.Session.get, calls/s | {rates['bare']:,.0f} | |")
        print(f"| client.runs.retrieve (parsed Run), calls/s | {rates['ours']:,.0f} | |")
        print(f"| client overhead per call | {overhead:.1f} % ({per_call_us:.0f} µs) | ≤ 15 % |")
        print(f"| requests to create {args.runs:,} runs (batch_trigger ×{-(-args.runs // 1000)}) | {create_requests} |"
              f" {2 * -(-args.runs // 1000)} |")
        print(f"| requests to iterate {seen:,} runs at page size 100 | {list_requests} | {-(-args.runs // 100)} |")
        print(f"| last page size (no trailing empty page) | {page_sizes[-1]} | > 0 |")
        print(f"| items yielded by auto-pagination (`for run in page`) | {auto_items:,} | {args.runs:,} |")
        print(f"| peak traced memory while walking pages | {peak / 1024:,.0f} KiB | flat |")
        print(f"\n(method: best of {args.rounds}×{args.calls} calls, single thread, keep-alive, emulator in a "
              "separate process on 127.0.0.1)")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
