"""Retrieving runs whose output was offloaded (issue 15): time and memory per ``runs.retrieve``.

    uv run python benchmarks/packets_bench.py [--rounds 20]

The emulator runs in its own process (2 cores: client and server must not share a GIL). For an
inline 100 KB output, a 300 KB and a 5 MB offloaded output, it prints the median and best wall time of
``client.runs.retrieve`` (one API call, plus the presigned GET and the parse when offloaded), the
client-process CPU per call, and the Python peak memory (``tracemalloc``) during one call, for the
sync and the async client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import requests

from airflow_provider_trigger.client import AsyncTriggerClient, TriggerClient

_SERVER = (
    "import threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer().start()\n"
    "print(s.base_url, s.secret_key, flush=True)\n"
    "threading.Event().wait()\n"
)
SIZES = {"100 KB (inline)": 100 * 1024, "300 KB (offloaded)": 300 * 1024, "5 MB (offloaded)": 5 * 1024 * 1024}


def output_of(size: int) -> dict[str, list[str]]:
    """A JSON object of about ``size`` bytes: rows of 1,000 characters."""
    return {"rows": ["r" * 1000] * (size // 1006)}


def measure(call: Callable[[], object], rounds: int) -> tuple[float, float, float, float]:
    """(median s, best s, CPU s per call, peak MiB of one traced call)."""
    walls, cpu = [], time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    cpu_per_call = (time.process_time() - cpu) / rounds
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(walls), min(walls), cpu_per_call, peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url, key = server.stdout.readline().split()
        control = requests.Session()
        run_ids: dict[str, str] = {}
        with TriggerClient(key, base_url=base_url) as client:
            for label, size in SIZES.items():
                task = f"bench-{size}"
                body = {"duration": 0.05, "queueTime": 0.01, "output": output_of(size)}
                control.post(f"{base_url}/_emulator/tasks/{task}", data=json.dumps(body), timeout=60)
                run_ids[label] = client.tasks.trigger(task).id
            time.sleep(1)
            print("| output | client | median ms | best ms | client CPU ms | peak MiB |")
            print("| --- | --- | --- | --- | --- | --- |")
            for label, run_id in run_ids.items():
                run = client.runs.retrieve(run_id)
                assert run.is_success and len(run.output["rows"]) == SIZES[label] // 1006, label
                median, best, cpu, peak = measure(lambda r=run_id: client.runs.retrieve(r), args.rounds)
                row = f"| {label} | sync | {median * 1e3:.1f} | {best * 1e3:.1f} | {cpu * 1e3:.1f} |"
                print(f"{row} {peak:.1f} |")

        async def run_async() -> None:
            async with AsyncTriggerClient(key, base_url=base_url) as aclient:
                loop = asyncio.get_running_loop()
                for label, run_id in run_ids.items():

                    def call(r: str = run_id) -> object:
                        return asyncio.run_coroutine_threadsafe(aclient.runs.retrieve(r), loop).result()

                    median, best, cpu, peak = await asyncio.to_thread(measure, call, args.rounds)
                    row = f"| {label} | async | {median * 1e3:.1f} | {best * 1e3:.1f} | {cpu * 1e3:.1f} |"
                    print(f"{row} {peak:.1f} |")

        asyncio.run(run_async())
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
