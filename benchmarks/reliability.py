"""Reliability figures (issue 9): no duplicate or lost runs under faults, and rate limits respected.

    uv run python benchmarks/reliability.py [--calls 1000] [--batches 50] [--items 20] [--seed 1]
                                            [--with-pytest]

Runs against a real emulator on 127.0.0.1 (in this process) with the real ``TriggerClient`` over HTTP.
The client's retry sleep is replaced by one that only records the wait it was asked for, so the
fault figures run in seconds; the rate-limit figure uses the real clock, because the emulator's
limiter does. Prints one table:

1. ``tasks.trigger`` x N (every 2nd call with an idempotency key) while ~20 % of API requests get a
   fault chosen among 500, 503, 408, 409, 429 (with ``x-ratelimit-reset``), a connection dropped
   before the request is applied and one dropped after it was applied: every call must return one
   run id, and the server must hold exactly one run per call. A control run sends the same calls
   with the ``x-trigger-request-idempotency-key`` header blanked, to show what saves the unkeyed
   calls hit by a drop-after.
2. The same for ``tasks.batch_trigger`` (B batches x I items).
3. A burst of triggers from several threads against the emulator's token-bucket limiter: requests
   that reached the server while their client was told to wait (goal 0), attempts per call.

``--with-pytest`` also runs ``tests/reliability`` (figures 2 Airflow retries, 4 secret leaks, 5 bad
inputs, 6 forward compatibility, and fast versions of 1-3) and prints passed/failed per figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import requests

from airflow_provider_trigger.client import (
    ApiError,
    RateLimitError,
    TriggerClient,
)
from airflow_provider_trigger.emulator import EmulatorServer, RateLimit

FAULT_KINDS: list[int | str] = [500, 503, 408, 409, 429, "drop_before", "drop_after"]
REQUEST_KEY_HEADER = "x-trigger-request-idempotency-key"
TASK = "reliability"


@dataclass
class FaultFigures:
    """What one fault run produced, counted on both sides of the wire."""

    calls: int
    ids_returned: int = 0
    distinct_ids: int = 0
    server_runs: int = 0
    duplicates: int = 0
    lost: int = 0
    mismatched: int = 0
    call_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    faulted: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    drop_after_unkeyed: int = 0
    drop_after_keyed: int = 0
    max_attempts_used: int = 0
    waited: float = 0.0
    seconds: float = 0.0
    orphan_batches: int = 0

    @property
    def ok(self) -> bool:
        clean = not (self.duplicates or self.lost or self.mismatched or self.call_errors)
        return clean and self.ids_returned == self.distinct_ids == self.server_runs == self.calls


def fast_client(emu: EmulatorServer, waits: list[float], **kwargs: Any) -> TriggerClient:
    """A client whose retry waits are recorded, not slept (the clock stays real)."""
    return TriggerClient(emu.secret_key, base_url=emu.base_url, sleep=waits.append, **kwargs)


def _server_runs_by_call(emu: EmulatorServer, key: str) -> dict[Any, list[str]]:
    """Server run ids grouped by the logical call recorded in their payload (``{key: call}``)."""
    grouped: dict[Any, list[str]] = {}
    with emu.state.lock:
        runs = list(emu.state.runs.values())
    for run in runs:
        call = json.loads(run.payload)[key] if run.payload else None
        grouped.setdefault(call, []).append(run.id)
    return grouped


def _count_requests(emu: EmulatorServer, figures: FaultFigures) -> None:
    records = emu.requests.all()
    figures.requests = len(records)
    figures.faults = Counter(r.fault for r in records if r.fault)
    figures.faulted = sum(figures.faults.values())
    dropped = [r for r in records if r.fault == "drop_after" and r.path.endswith("/trigger")]
    keyed = sum(1 for r in dropped if "idempotencyKey" in ((r.json or {}).get("options") or {}))
    figures.drop_after_keyed, figures.drop_after_unkeyed = keyed, len(dropped) - keyed


def trigger_under_faults(
    emu: EmulatorServer,
    calls: int = 1000,
    *,
    rate: float = 0.2,
    seed: int = 1,
    kinds: list[int | str] | None = None,
    keyed_every: int = 2,
    request_key: bool = True,
) -> FaultFigures:
    """``calls`` sequential ``tasks.trigger`` calls under random faults; the emulator is reset first.

    Every ``keyed_every``-th call carries an idempotency key. ``request_key=False`` blanks the
    request-idempotency header (the control experiment).
    """
    emu.reset()
    emu.faults.inject_random(rate, kinds or FAULT_KINDS, seed=seed, path="/api/*", reset_after=0.5)
    waits: list[float] = []
    headers = {} if request_key else {REQUEST_KEY_HEADER: ""}
    figures = FaultFigures(calls)
    returned: dict[int, str] = {}
    started = time.perf_counter()
    with fast_client(emu, waits, extra_headers=headers) as client:
        raw = client.with_raw_response
        for call in range(calls):
            options = {"idempotency_key": f"reliability-{seed}-{call}"} if call % keyed_every == 0 else {}
            try:
                response = raw.tasks.trigger(TASK, {"call": call}, **options)
            except ApiError as exc:
                figures.call_errors[type(exc).__name__] += 1
                continue
            returned[call] = response.parsed.id
            figures.max_attempts_used = max(figures.max_attempts_used, response.retries_taken + 1)
    figures.seconds = time.perf_counter() - started
    emu.faults.clear()
    grouped = _server_runs_by_call(emu, "call")
    figures.ids_returned = len(returned)
    figures.distinct_ids = len(set(returned.values()))
    figures.server_runs = sum(len(ids) for ids in grouped.values())
    figures.duplicates = sum(len(ids) - 1 for ids in grouped.values() if len(ids) > 1)
    figures.lost = sum(1 for call in range(calls) if call not in grouped)
    figures.mismatched = sum(1 for call, run_id in returned.items() if run_id not in grouped.get(call, []))
    figures.waited = sum(waits)
    _count_requests(emu, figures)
    return figures


def batches_under_faults(
    emu: EmulatorServer,
    batches: int = 50,
    items: int = 20,
    *,
    rate: float = 0.2,
    seed: int = 3,
    kinds: list[int | str] | None = None,
    keyed_every: int = 2,
) -> FaultFigures:
    """``batches`` sequential ``tasks.batch_trigger`` calls of ``items`` items under random faults."""
    emu.reset()
    # Items are processed at once: this measures the client under faults, not the server's processing
    # time (the client's waits are recorded, not slept, so a processing delay would mean busy polling).
    emu.state.config.batch_processing_time = emu.state.config.batch_item_time = 0.0
    emu.faults.inject_random(rate, kinds or FAULT_KINDS, seed=seed, path="/api/*", reset_after=0.5)
    waits: list[float] = []
    figures = FaultFigures(batches * items)
    returned: dict[int, str] = {}
    started = time.perf_counter()
    with fast_client(emu, waits) as client:
        for batch in range(batches):
            options = (
                {"idempotency_key": f"reliability-batch-{seed}-{batch}"} if batch % keyed_every == 0 else {}
            )
            payloads = [{"payload": {"item": batch * items + i}} for i in range(items)]
            try:
                result = client.tasks.batch_trigger(TASK, payloads, wait_until_processed=60, **options)
            except ApiError as exc:
                figures.call_errors[type(exc).__name__] += 1
                continue
            if len(result.run_ids) != items:
                figures.call_errors["short batch"] += 1
            returned.update({batch * items + i: run_id for i, run_id in enumerate(result.run_ids)})
    figures.seconds = time.perf_counter() - started
    emu.faults.clear()
    grouped = _server_runs_by_call(emu, "item")
    figures.ids_returned = len(returned)
    figures.distinct_ids = len(set(returned.values()))
    figures.server_runs = sum(len(ids) for ids in grouped.values())
    figures.duplicates = sum(len(ids) - 1 for ids in grouped.values() if len(ids) > 1)
    figures.lost = sum(1 for item in range(batches * items) if item not in grouped)
    figures.mismatched = sum(1 for item, run_id in returned.items() if run_id not in grouped.get(item, []))
    with emu.state.lock:
        figures.orphan_batches = sum(1 for b in emu.state.stores.batches.values() if not b.run_ids)
    figures.waited = sum(waits)
    _count_requests(emu, figures)
    return figures


def replays_under_drops(emu: EmulatorServer, calls: int = 100, *, rate: float = 0.2, seed: int = 2) -> int:
    """Replayed runs on the server after ``calls`` ``runs.replay`` calls with ``drop_after`` faults.

    A known gap, measured rather than hidden: the API keeps no replay cache for ``/replay`` (only
    trigger and the v2 batch route honour the request-idempotency header), so a retry after a lost
    response replays the run again.
    """
    emu.reset()
    waits: list[float] = []
    with fast_client(emu, waits) as client:
        source = client.tasks.trigger(TASK, {"call": -1}).id
        emu.faults.inject_random(rate, ["drop_after"], seed=seed, path="/api/*")
        for _ in range(calls):
            client.runs.replay(source)
    emu.faults.clear()
    with emu.state.lock:
        return sum(1 for run in emu.state.runs.values() if run.replayed_from)


@dataclass
class RateFigures:
    clients: int
    calls: int
    succeeded: int = 0
    rate_limit_errors: int = 0
    requests: int = 0
    limited: int = 0
    early: int = 0
    max_attempts_used: int = 0
    server_runs: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.early == 0
            and self.rate_limit_errors == 0
            and self.succeeded == self.server_runs == self.clients * self.calls
        )


def rate_limit_burst(
    emu: EmulatorServer,
    *,
    clients: int = 4,
    calls: int = 15,
    limit: RateLimit | None = None,
) -> RateFigures:
    """``clients`` threads, each with its own client on the same key, trigger ``calls`` runs at once.

    The emulator's limiter (real clock) answers 429 with ``x-ratelimit-reset``. A request is *early*
    when it reached the server before the reset its client was last given.
    """
    emu.reset()
    emu.state.config.rate_limit = limit or RateLimit(burst=20, refill=20, interval=1.0)
    figures = RateFigures(clients, calls)
    # per client: (status, reset epoch s) of every attempt, in order
    attempts: dict[int, list[tuple[int, float | None]]] = {n: [] for n in range(clients)}
    lock = threading.Lock()

    def worker(n: int) -> None:
        record = attempts[n]

        def note(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            reset = response.headers.get("x-ratelimit-reset")
            record.append((response.status_code, int(reset) / 1000 if reset else None))

        session = requests.Session()
        session.hooks["response"].append(note)
        with TriggerClient(emu.secret_key, base_url=emu.base_url, session=session) as client:
            for call in range(calls):
                try:
                    result = client.with_raw_response.tasks.trigger(TASK, {"client": n, "call": call})
                except RateLimitError:
                    with lock:
                        figures.rate_limit_errors += 1
                    continue
                with lock:
                    figures.succeeded += 1
                    figures.max_attempts_used = max(figures.max_attempts_used, result.retries_taken + 1)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures.seconds = time.perf_counter() - started
    emu.state.config.rate_limit = None
    # the server's view: when each request arrived; a client's attempt after a 429 must arrive after reset
    arrivals: dict[int, list[float]] = {n: [] for n in range(clients)}
    for request in emu.requests.all():
        arrivals[int(((request.json or {}).get("payload") or {}).get("client", -1))].append(request.time)
    for n, record in attempts.items():
        # a client's attempts are sequential: attempt i + 1 is the client's (i + 1)-th arrival
        for (status, reset), arrived in zip(record, sorted(arrivals[n])[1:], strict=False):
            if status == 429 and reset is not None and arrived < reset:
                figures.early += 1
    figures.requests = len(emu.requests)
    figures.limited = sum(1 for r in emu.requests.all() if r.status == 429)
    figures.server_runs = len(emu.state.runs)
    return figures


def _row(name: str, goal: str = "", value: str = "", ok: bool = True) -> str:
    return f"| {name:<66} | {goal:<12} | {value:<36} | {'yes' if ok else 'NO':<3} |"


def fault_rows(title: str, f: FaultFigures) -> list[str]:
    share = 100 * f.faulted / max(f.requests, 1)
    rows = [
        _row(f"{title}: logical calls / items", "", str(f.calls), True),
        _row(
            "  requests sent / hit by a fault", "~20 %", f"{f.requests} / {f.faulted} ({share:.1f} %)", True
        ),
        _row(
            "  fault kinds that fired (counts below the table)", "7", str(len(f.faults)), len(f.faults) == 7
        ),
        _row("  calls that returned a run id", str(f.calls), str(f.ids_returned), f.ids_returned == f.calls),
        _row("  distinct run ids returned", str(f.calls), str(f.distinct_ids), f.distinct_ids == f.calls),
        _row("  runs on the server", str(f.calls), str(f.server_runs), f.server_runs == f.calls),
        _row("  duplicate runs", "0", str(f.duplicates), f.duplicates == 0),
        _row("  lost runs", "0", str(f.lost), f.lost == 0),
        _row("  returned id ≠ the server's run for that call", "0", str(f.mismatched), f.mismatched == 0),
        _row(
            "  calls raising after the retry budget", "0", str(sum(f.call_errors.values())), not f.call_errors
        ),
        _row("  retry waits asked for (recorded, not slept)", "", f"{f.waited:.1f} s", True),
        _row("  wall time", "< 60 s", f"{f.seconds:.1f} s", f.seconds < 60),
    ]
    if f.drop_after_unkeyed:
        rows.insert(3, _row("  of which drop_after on calls without a key", "", str(f.drop_after_unkeyed)))
    if f.max_attempts_used:
        rows.insert(-2, _row("  most attempts one call needed", "≤ 5", str(f.max_attempts_used), True))
    return rows


PYTEST_FIGURES = [
    ("1-3 fast versions of the figures above", "test_faults"),
    ("1-3 fast versions: rate limit", "test_rate_limit"),
    ("1. operators under faults (30 tasks, a 25-item batch)", "test_operators_under_faults"),
    ("2. Airflow retries re-attach (dag.test retries, SIGKILLed worker)", "test_airflow_retries"),
    ("4. no secret leaks (every example DAG + every operator)", "test_secret_leaks"),
    ("5. bad input table (client, server answers, hook, operators)", "test_bad_input"),
    ("6. forward compatibility (hypothesis, every model)", "test_forward_compat"),
]


def pytest_figures() -> tuple[Counter[str], Counter[str]]:
    """Run ``tests/reliability`` and count passed / failed tests per module (from its JUnit XML)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", "tests/reliability", "-q", f"--junitxml={report}"],
            cwd=root,
            capture_output=True,
            check=False,
        )
        passed: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for case in ElementTree.parse(report).iter("testcase"):
            module = case.get("classname", "").rsplit(".", 1)[-1]
            bad = case.find("failure") is not None or case.find("error") is not None
            (failed if bad else passed)[module] += 1
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--with-pytest", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with EmulatorServer(tasks=[TASK]) as emu:
        single = trigger_under_faults(emu, args.calls, seed=args.seed)
        control = trigger_under_faults(
            emu, args.calls, seed=args.seed, kinds=["drop_after"], request_key=False
        )
        batch = batches_under_faults(emu, args.batches, args.items, seed=args.seed + 2)
        rate = rate_limit_burst(emu)
        replays = replays_under_drops(emu)
    header = f"| {'figure':<66} | {'goal':<12} | {'measured':<36} | ok  |"
    lines = [header, "|" + "-" * 68 + "|" + "-" * 14 + "|" + "-" * 38 + "|-----|"]
    lines += fault_rows(f"1. tasks.trigger x {args.calls} (1/2 keyed)", single)
    lines += [
        _row("1b. control: request-idempotency header blanked, drop_after 20 %", "", "", True),
        _row("  drop_after faults on calls with a key (saved by the key)", "", str(control.drop_after_keyed)),
        _row("  drop_after faults on calls without a key", "", str(control.drop_after_unkeyed), True),
        _row(
            "  duplicate runs without the header",
            "= that count",
            str(control.duplicates),
            control.duplicates == control.drop_after_unkeyed,
        ),
    ]
    lines += fault_rows(f"2. batch_trigger x {args.batches} of {args.items} (1/2 keyed)", batch)
    lines.append(
        _row(
            "  empty batches left by drop_after on an unkeyed create",
            "(no runs)",
            str(batch.orphan_batches),
            True,
        )
    )
    lines += [
        _row(
            f"3. rate limit: {rate.clients} clients x {rate.calls} triggers, bucket of 20, +20 per 1 s",
            "",
            "",
            True,
        ),
        _row("  requests sent / answered 429", "", f"{rate.requests} / {rate.limited}", True),
        _row("  requests arriving before the reset they were given", "0", str(rate.early), rate.early == 0),
        _row(
            "  most attempts one call needed", "≤ 5", str(rate.max_attempts_used), rate.max_attempts_used <= 5
        ),
        _row(
            "  calls failing with RateLimitError",
            "0",
            str(rate.rate_limit_errors),
            rate.rate_limit_errors == 0,
        ),
        _row("  runs on the server", str(rate.clients * rate.calls), str(rate.server_runs), rate.ok),
        _row("  wall time (real waits)", "", f"{rate.seconds:.1f} s", True),
    ]
    lines += [
        _row("known gap (outside the exit status): runs.replay x 100, drop_after"),
        _row(
            "  replayed runs on the server (the API has no replay cache)", "100", str(replays), replays == 100
        ),
    ]
    print("\n".join(lines))
    for name, figures in (("1", single), ("1b", control), ("2", batch)):
        print(f"faults fired in {name}:", ", ".join(f"{k} x{v}" for k, v in sorted(figures.faults.items())))
    ok = single.ok and batch.ok and rate.ok and control.duplicates == control.drop_after_unkeyed
    if args.with_pytest:
        passed, failed = pytest_figures()
        print()
        print(f"| {'figure (pytest tests/reliability)':<66} | {'passed':<12} | {'failed':<36} | ok  |")
        print("|" + "-" * 68 + "|" + "-" * 14 + "|" + "-" * 38 + "|-----|")
        for name, module in PYTEST_FIGURES:
            ok_row = failed[module] == 0 and passed[module] > 0
            print(_row(name, str(passed[module]), str(failed[module]), ok_row))
            ok = ok and ok_row
    print(
        f"total {time.perf_counter() - started:.1f} s - {'all figures met' if ok else 'SOME FIGURES MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
