"""Run-log streaming figures (issue 20), against the emulator in its own process.

    uv run python benchmarks/run_logs_bench.py [--lines 40] [--duration 20] [--poll-interval 2]

A run writes ``--lines`` log lines spread evenly over ``--duration`` seconds; the wait engine's worker
driver (``WorkerWait``, what ``RunWaitingOperator`` uses with ``stream_logs=True``) follows it with a
``RunLogPrinter`` as its per-poll callback, once polling and once on the realtime feed. Prints:
1. lines fetched per read of the events route (the route has no cursor, so every read returns every
   line so far) and lines printed per read (new ones only), mean and max;
2. requests the streaming added to the wait (events reads) against the wait's own status requests;
3. latency from a line's own timestamp (when the emulator "wrote" it) to the moment the printer logged
   it, p50 / p95 / max.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from airflow_provider_trigger.client import RunLogLine, TriggerClient
from airflow_provider_trigger.triggers.engine.logs import LogSettings, RunLogPrinter
from airflow_provider_trigger.triggers.engine.statuses import RunSet, RunWatch
from airflow_provider_trigger.triggers.engine.worker import wait_in_worker

_SERVER = (
    "import threading\n"
    "from airflow_provider_trigger.emulator import EmulatorServer\n"
    "s = EmulatorServer(tasks=[]).start()\n"
    "print(s.base_url, s.secret_key, flush=True)\n"
    "threading.Event().wait()\n"
)


class RecordingLog:
    """A logger that notes when each message was logged (the moment it reaches the task log)."""

    def __init__(self) -> None:
        self.records: list[tuple[float, str]] = []

    def _record(self, message: str, *args: Any) -> None:
        self.records.append((time.time(), message % args if args else message))

    info = warning = error = debug = _record


def one_wait(client: TriggerClient, base_url: str, wait_mode: str, poll_interval: float) -> dict[str, Any]:
    run_id = client.tasks.trigger("chatty", {}).id
    reads: list[tuple[int, int]] = []  # (lines returned, lines new)
    written: dict[str, float] = {}
    log = RecordingLog()
    printer: RunLogPrinter

    def logs(run_id: str, **kwargs: Any) -> list[RunLogLine]:
        lines: list[RunLogLine] = client.runs.logs(run_id, **kwargs)
        new = [line for line in lines if line.key not in printer.printed.get(run_id, ())]
        reads.append((len(lines), len(new)))
        for line in lines:
            written[line.format()] = line.time.timestamp()
        return lines

    printer = RunLogPrinter(logs, log, LogSettings(stream=True))
    runs = RunSet([RunWatch(run_id, url="", log=log, environment="dev")])
    httpx.delete(f"{base_url}/_emulator/requests")
    result = wait_in_worker(
        client,
        runs,
        poll_interval=poll_interval,
        deadline=time.time() + 300,
        wait_mode=wait_mode,
        log=log,
        what=f"run {run_id}",
        on_poll=printer.poll,
    )
    printer.finish(result)
    requests = httpx.get(f"{base_url}/_emulator/requests").json()
    events = sum(1 for r in requests if r["path"].endswith("/events"))
    status = sum(1 for r in requests if "/events" not in r["path"])
    latencies = [at - written[text] for at, text in log.records if text in written]
    return {"reads": reads, "events": events, "status": status, "latencies": latencies}


def _fmt(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * scale:.2f}{unit}, p95 {p95 * scale:.2f}{unit}, "
        f"max {ordered[-1] * scale:.2f}{unit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url, key = server.stdout.readline().split()
        behaviour = {
            "duration": args.duration,
            "queueTime": 0.5,
            "logs": [["info", f"processed batch {i} of {args.lines}"] for i in range(args.lines)],
        }
        httpx.post(f"{base_url}/_emulator/tasks/chatty", json=behaviour).raise_for_status()
        rows: list[tuple[str, str]] = []
        with TriggerClient(key, base_url=base_url) as client:
            for mode in ("poll", "realtime"):
                figures = one_wait(client, base_url, mode, args.poll_interval)
                returned = [r for r, _ in figures["reads"]]
                new = [n for _, n in figures["reads"]]
                rows += [
                    (f"{mode}: events reads / status requests", f"{figures['events']} / {figures['status']}"),
                    (
                        f"{mode}: lines returned per read",
                        f"mean {statistics.mean(returned):.1f}, max {max(returned)}",
                    ),
                    (
                        f"{mode}: lines printed per read (new)",
                        f"mean {statistics.mean(new):.1f}, max {max(new)}",
                    ),
                    (f"{mode}: lines printed in all", f"{len(figures['latencies'])} of {args.lines}"),
                    (f"{mode}: written → in the task log", _fmt(figures["latencies"], unit=" s")),
                ]
    finally:
        server.terminate()
        server.wait()
    print(f"{args.lines} lines over {args.duration:g} s, poll_interval {args.poll_interval:g} s\n")
    print("| figure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
