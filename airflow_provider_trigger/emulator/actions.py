"""Actions shared by several routes: cancel, replay, and settling due bulk actions."""

from __future__ import annotations

from .batching import settle_batches
from .lifecycle import parse_packet
from .models import Run
from .state import EmulatorState
from .triggering import TriggerBody, TriggerOptions, trigger


def cancel(state: EmulatorState, run: Run) -> None:
    """Cancel a run unless it already finished (a no-op then)."""
    with state.lock:
        now = state.now()
        if run.canceled_at is None and not state.view(run, now).finished:
            run.canceled_at = now
            run.touched_at = now


def replay(state: EmulatorState, run: Run, bulk_action_id: str | None = None) -> Run:
    """Trigger a new run with the original's task, payload, tags, metadata and concurrency key."""
    options = TriggerOptions(
        tags=list(run.tags) or None,
        payloadType=run.payload_type,
        queue=None if run.queue.startswith("task/") else {"name": run.queue},  # type: ignore[arg-type]
        test=run.is_test,
        machine=run.machine,
        concurrencyKey=run.concurrency_key,  # replayTaskRun.server.ts keeps both
        metadata=None if run.metadata is None else parse_packet(run.metadata, run.metadata_type),
        metadataType=run.metadata_type if run.metadata is not None else None,
    )
    payload = (
        parse_packet(run.payload, "application/json")
        if run.payload_type == "application/json"
        else run.payload
    )
    new, _ = trigger(state, run.env, run.task, TriggerBody(payload=payload, options=options))
    new.replayed_from = run.id
    if bulk_action_id:
        new.bulk_action_ids.append(bulk_action_id)
    return new


def settle(state: EmulatorState) -> None:
    """Apply bulk actions and process batch items whose time has come (lazily, like the run lifecycle)."""
    settle_batches(state)
    with state.lock:
        now = state.now()
        for action in state.stores.bulk_actions.values():
            due = action.created_at + action.duration
            if action.applied or action.aborted_at is not None or now < due:
                continue
            action.applied = True
            state.version += 1
            for run_id in action.run_ids:
                run = state.stores.runs.get(run_id)
                if run is None:
                    action.failure += 1
                    continue
                run.bulk_action_ids.append(action.id)
                if action.type == "REPLAY":
                    replay(state, run, action.id)
                    action.success += 1
                elif state.view(run, due).finished or run.canceled_at is not None:
                    action.failure += 1
                else:
                    run.canceled_at = run.touched_at = due
                    action.success += 1
