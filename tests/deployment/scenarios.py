"""The chaos scenarios, shared by the tests (which assert counts and states) and the benchmark
(``benchmarks/deployment.py``, which prints them with wall times).

Each scenario drives a running :class:`Deployment` and returns an :class:`Outcome`: how many Airflow
tasks ran and succeeded, and what the emulator saw (runs per task, cancelled runs). Durations of the
emulator's tasks are set per scenario, long enough that the chaos lands mid-wait.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from .harness import HEALTH_THRESHOLD, DagRun, Deployment

EXAMPLES = [
    "example_trigger_task",
    "example_trigger_deferrable",
    "example_asset_producer",
    "ingest_now",
    "example_trigger_deployment",
]
#: DAGs the examples start by themselves: through an asset (producer) and an asset watcher (ingest).
DOWNSTREAM = {"example_asset_consumer": "example_asset_producer", "transform": "ingest_now"}
DEFERRED_TASKS = {"example_trigger_deferrable": ["wait", "fan_out"]}


@dataclass
class Outcome:
    name: str
    tasks: int = 0
    successes: int = 0
    duplicate_runs: int = 0
    cancelled_runs: int = 0
    lost_events: int | None = None
    wall_time: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def _count(dep: Deployment, runs: list[DagRun], outcome: Outcome) -> None:
    states = [s for run in runs for s in dep.task_states(run).values()]
    outcome.tasks = len(states)
    outcome.successes = sum(1 for s in states if s == "success")
    outcome.details["task_states"] = dict(Counter(states))


def _emulator_runs(dep: Deployment, outcome: Outcome, task: str, first: int, expected: int) -> None:
    """Runs of ``task`` created by this scenario (the emulator lists runs oldest first)."""
    runs = dep.emulator_runs(task)[first:]
    outcome.duplicate_runs = len(runs) - expected
    outcome.cancelled_runs = sum(1 for r in runs if r["status"] == "CANCELED")
    outcome.details["emulator_statuses"] = dict(Counter(r["status"] for r in runs))


def _wait_deferred(dep: Deployment, run: DagRun, count: int, timeout: float = 600) -> None:
    """Until ``count`` task instances of ``run`` are deferred and every trigger has a triggerer."""
    deadline = time.monotonic() + timeout
    while True:
        states = Counter(dep.task_states(run).values())
        assigned = dep.triggers_by_triggerer()
        if states["deferred"] >= count and None not in assigned:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not {count} deferred after {timeout:.0f} s: {dict(states)}, {assigned}")
        time.sleep(1)


def every_example(dep: Deployment) -> Outcome:
    """1. Every example DAG through the real scheduler, workers and triggerers."""
    outcome = Outcome("1. every example DAG")
    # long enough that the deferrable tasks find their runs still going and defer
    for task in ("hello-world", "ingest", "resize"):
        dep.emulator("POST", f"tasks/{task}", {"duration": 15})
    started = time.monotonic()
    before = {dag: len(dep.dag_runs(dag)) for dag in DOWNSTREAM}
    runs = [dep.trigger(dag) for dag in EXAMPLES]
    states = dep.wait(*runs, timeout=600)
    # the downstream DAGs: one run each from the asset event (producer) / the watcher's event (ingest)
    downstream = []
    for dag in DOWNSTREAM:
        deadline = time.monotonic() + 180
        while len(dep.dag_runs(dag)) <= before[dag] and time.monotonic() < deadline:
            time.sleep(1)
        new = sorted(dep.dag_runs(dag), key=lambda r: r["run_after"])[before[dag] :]
        downstream += [DagRun(dag, r["dag_run_id"]) for r in new]
    states.update(dep.wait(*downstream, timeout=300))
    outcome.wall_time = time.monotonic() - started
    _count(dep, runs + downstream, outcome)
    outcome.details["dag_runs"] = {run.dag_id: state for run, state in states.items()}
    outcome.details["deferred"] = {}
    for run in runs:
        for task in DEFERRED_TASKS.get(run.dag_id, []):
            log = dep.task_log(run, task)
            outcome.details["deferred"][f"{run.dag_id}.{task}"] = (
                "Pausing task as DEFERRED" in log and "Trigger fired event" in log
            )
    statuses = Counter(r["status"] for r in dep.emulator_runs())
    outcome.cancelled_runs = statuses["CANCELED"]
    outcome.details["emulator_statuses"] = dict(statuses)
    return outcome


def triggerer_killed(dep: Deployment, waits: int = 8) -> Outcome:
    """2. A triggerer SIGKILLed mid-wait while another runs: its triggers are adopted."""
    outcome = Outcome("2. triggerer SIGKILLed mid-wait")
    dep.emulator("POST", "tasks/chaos-wait", {"duration": 45})
    first = len(dep.emulator_runs("chaos-wait"))
    started = time.monotonic()
    run = dep.trigger("chaos_deferred", {"waits": waits})
    _wait_deferred(dep, run, waits)
    held = dep.triggers_by_triggerer()
    victim = max((job for job in held if dep.triggerer_of(job)), key=lambda job: held[job])
    name = dep.triggerer_of(victim)
    assert name is not None
    dep.components[name].signal(signal.SIGKILL)
    outcome.details["killed"] = name
    outcome.details["triggers_on_killed"] = held[victim]
    dep.wait(run, timeout=600)
    outcome.wall_time = time.monotonic() - started
    _count(dep, [run], outcome)
    _emulator_runs(dep, outcome, "chaos-wait", first, waits)
    return outcome


def triggerer_stalled(dep: Deployment, waits: int = 8) -> Outcome:
    """3. A triggerer stopped (SIGSTOP) past the health-check threshold, then continued."""
    outcome = Outcome("3. triggerer stalled past the health check")
    dep.emulator("POST", "tasks/chaos-wait", {"duration": 60})
    first = len(dep.emulator_runs("chaos-wait"))
    started = time.monotonic()
    run = dep.trigger("chaos_deferred", {"waits": waits})
    _wait_deferred(dep, run, waits)
    held = dep.triggers_by_triggerer()
    victim = max((job for job in held if dep.triggerer_of(job)), key=lambda job: held[job])
    name = dep.triggerer_of(victim)
    assert name is not None
    dep.components[name].signal(signal.SIGSTOP)
    deadline = time.monotonic() + HEALTH_THRESHOLD * 6
    while victim in dep.triggers_by_triggerer() and time.monotonic() < deadline:
        time.sleep(1)
    outcome.details["reassigned"] = victim not in dep.triggers_by_triggerer()
    time.sleep(5)
    dep.components[name].signal(signal.SIGCONT)
    outcome.details["stalled"] = name
    outcome.details["triggers_on_stalled"] = held[victim]
    dep.wait(run, timeout=600)
    outcome.wall_time = time.monotonic() - started
    _count(dep, [run], outcome)
    _emulator_runs(dep, outcome, "chaos-wait", first, waits)
    return outcome


def worker_terminated(dep: Deployment, grace: float = 5.0) -> Outcome:
    """4. The worker evicted during a worker-side wait (SIGTERM, then SIGKILL after ``grace`` s, as
    Kubernetes does); the retry must resume the same Trigger.dev run."""
    outcome = Outcome("4. worker SIGTERMed mid-wait, retried")
    dep.emulator("POST", "tasks/chaos-worker", {"duration": 40})
    first = len(dep.emulator_runs("chaos-worker"))
    started = time.monotonic()
    run = dep.trigger("chaos_worker_wait")
    dep.wait_task_state(run, "wait", {"running"})
    deadline = time.monotonic() + 180
    while len(dep.emulator_runs("chaos-worker")) == first and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # the run exists and the task is waiting on it
    (ti,) = dep.task_instances(run)
    os.kill(ti["pid"], signal.SIGTERM)
    time.sleep(grace)
    with suppress(ProcessLookupError):
        os.kill(ti["pid"], signal.SIGKILL)
    outcome.details["evicted_pid"] = ti["pid"]
    dep.wait(run, timeout=600)
    outcome.wall_time = time.monotonic() - started
    _count(dep, [run], outcome)
    (ti,) = dep.task_instances(run)
    outcome.details["try_number"] = ti["try_number"]
    _emulator_runs(dep, outcome, "chaos-worker", first, 1)
    return outcome


def user_marks_failed(dep: Deployment) -> Outcome:
    """5. A user marks a deferred task failed: its Trigger.dev run is cancelled (on_kill)."""
    outcome = Outcome("5. deferred task marked failed by a user")
    dep.emulator("POST", "tasks/chaos-wait", {"duration": 120})
    first = len(dep.emulator_runs("chaos-wait"))
    started = time.monotonic()
    run = dep.trigger("chaos_deferred", {"waits": 1})
    _wait_deferred(dep, run, 1)
    time.sleep(3)  # the trigger is running in a triggerer
    dep.set_task_state(run, "wait", "failed", map_index=0)
    deadline = time.monotonic() + 90
    runs = dep.emulator_runs("chaos-wait")[first:]
    while any(r["status"] != "CANCELED" for r in runs) and time.monotonic() < deadline:
        time.sleep(1)
        runs = dep.emulator_runs("chaos-wait")[first:]
    dep.wait(run, timeout=120)
    outcome.wall_time = time.monotonic() - started
    _count(dep, [run], outcome)
    _emulator_runs(dep, outcome, "chaos-wait", first, 1)
    outcome.details["dag_run"] = dep.run_state(run)
    return outcome


def watcher_restarted(dep: Deployment, count: int = 6) -> Outcome:
    """6. Runs complete while the watching triggerer is SIGKILLed and restarted: one event per run."""
    outcome = Outcome("6. asset watcher's triggerer killed and restarted")
    dep.emulator("POST", "tasks/chaos-event", {"duration": 2})
    started = time.monotonic()
    asset_id = dep.asset_id("chaos_watched")
    dep.wait_until_watching(asset_id)
    before_events = dep.asset_event_run_ids(asset_id)
    before_runs = len(dep.dag_runs("chaos_on_event"))
    ids = dep.start_runs("chaos-event", count // 2)
    time.sleep(4)  # these end while the watcher runs
    watcher = dep.watcher_triggerer(asset_id)
    outcome.details["killed"] = watcher
    if watcher is not None:
        dep.components[watcher].signal(signal.SIGKILL)
    ids += dep.start_runs("chaos-event", count - count // 2)  # these end while it is down
    time.sleep(4)
    if watcher is not None:
        dep.start_triggerer(int(watcher.rsplit("-", 1)[1]))
    deadline = time.monotonic() + 240
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [r for r in dep.asset_event_run_ids(asset_id) if r not in before_events]
        if set(ids) <= set(seen):
            break
        time.sleep(2)
    time.sleep(6)  # a duplicate event would show up now
    seen = [r for r in dep.asset_event_run_ids(asset_id) if r not in before_events]
    # Airflow folds events queued together into one DAG run (and, racing, may leave some unconsumed):
    # wait a while for every event to be consumed, then count what was
    dag_runs: list[DagRun] = []
    consumed = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new_runs = sorted(dep.dag_runs("chaos_on_event"), key=lambda r: r["run_after"])[before_runs:]
        dag_runs = [DagRun("chaos_on_event", r["dag_run_id"]) for r in new_runs]
        dep.wait(*dag_runs, timeout=300)
        consumed = sum(dep.xcom(run, "count") for run in dag_runs)
        if consumed >= len(seen):
            break
        time.sleep(2)
    outcome.wall_time = time.monotonic() - started
    _count(dep, dag_runs, outcome)
    outcome.lost_events = len(set(ids) - set(seen))
    outcome.duplicate_runs = len(seen) - len(set(seen))
    outcome.details["runs_completed"] = count
    outcome.details["asset_events"] = len(seen)
    outcome.details["dag_runs"] = len(dag_runs)
    outcome.details["events_consumed"] = consumed
    return outcome


def emulator_outage(dep: Deployment, waits: int = 200, outage: float = 60.0) -> Outcome:
    """7. The Trigger.dev API unreachable for ``outage`` s while ``waits`` runs are waited on."""
    outcome = Outcome(f"7. {outage:.0f} s API outage under {waits} deferred waits")
    # the runs outlast the slowest worker start, so every wait is deferred when the outage begins
    dep.emulator("POST", "tasks/chaos-wait", {"duration": 60 + waits})
    first = len(dep.emulator_runs("chaos-wait"))
    started = time.monotonic()
    run = dep.trigger("chaos_deferred", {"waits": waits})
    _wait_deferred(dep, run, waits, timeout=1800)
    dep.emulator("POST", "faults", {"path": "/api/*", "kind": "drop_before", "count": None})
    dep.emulator("POST", "faults", {"path": "/realtime/*", "kind": 503, "count": None})
    time.sleep(outage)
    dep.emulator("DELETE", "faults")
    dep.wait(run, timeout=1800)
    outcome.wall_time = time.monotonic() - started
    _count(dep, [run], outcome)
    _emulator_runs(dep, outcome, "chaos-wait", first, waits)
    return outcome
