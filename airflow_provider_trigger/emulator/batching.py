"""The v3 batch lifecycle: items enqueued by index, processed after sealing, run ids written once.

Upstream: ``apps/webapp/app/runEngine/services/{createBatch,streamBatchItems}.server.ts`` (PENDING,
then PROCESSING when sealed, ``runs: []`` meanwhile), ``apps/webapp/app/v3/runEngineHandlers.server.ts``
(an item that cannot trigger becomes a pre-failed SYSTEM_FAILURE run; a >3 MB item a
PAYLOAD_TOO_LARGE one), ``apps/webapp/app/v3/runEngineHandlersShared.server.ts``
(``handleBatchCompletion``: PENDING / PARTIAL_FAILED / ABORTED, ``runIds`` in item order, counts,
``processing.errors`` only for failures without a run, QUEUE_SIZE_LIMIT_EXCEEDED collapsed to one
row) and ``internal-packages/run-engine/src/engine/systems/batchSystem.ts`` (COMPLETED once every
run is final).

Processing is lazy, like the run lifecycle: :func:`settle_batches` creates each item's run once its
time has come (``batch_processing_time`` after sealing, then ``batch_item_time`` per item, in index
order) and completes the batch when the last item is done.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .lifecycle import internal_error
from .models import Batch, Run, dumps, friendly_id

if TYPE_CHECKING:
    from .state import EmulatorState

ITEM_MAXIMUM_SIZE = 3_145_728  # STREAMING_BATCH_ITEM_MAXIMUM_SIZE
QUEUE_SIZE_LIMIT_EXCEEDED = "QUEUE_SIZE_LIMIT_EXCEEDED"
_QUEUED = frozenset({"PENDING", "PENDING_VERSION", "DELAYED"})


def seal(state: EmulatorState, batch: Batch) -> None:
    """All items are in: PROCESSING from now until the last item is processed."""
    batch.sealed, batch.sealed_at = True, state.now()
    batch.updated_at = batch.sealed_at
    if state.config.lenient:
        settle_batches(state)


def _item_due(state: EmulatorState, batch: Batch, position: int) -> float:
    assert batch.sealed_at is not None
    if state.config.lenient:
        return batch.sealed_at
    config = state.config
    return batch.sealed_at + config.batch_processing_time + config.batch_item_time * (position + 1)


def settle_batches(state: EmulatorState) -> None:
    """Process the items whose time has come; complete batches whose last item is done."""
    with state.lock:
        now = state.now()
        for batch in state.stores.batches.values():
            if not batch.streamed or not batch.sealed or batch.processed_at is not None:
                continue
            order = sorted(batch.pending_items)
            for position, index in enumerate(order):
                due = _item_due(state, batch, position)
                if due > now:
                    break
                if index not in batch.item_runs and not any(f["index"] == index for f in batch.failures):
                    _process(state, batch, index, batch.pending_items[index], due)
                    state.version += 1
            else:
                _complete(state, batch, _item_due(state, batch, len(order) - 1) if order else now)


def _queue_full(state: EmulatorState, batch: Batch, at: float) -> bool:
    limit = state.config.queue_size_limit
    if limit is None:
        return False
    queued = sum(
        1
        for r in state.stores.runs.values()
        if r.env.id == batch.env.id and state.view(r, at).status in _QUEUED
    )
    return queued >= limit


def _process(state: EmulatorState, batch: Batch, index: int, raw: dict[str, Any], at: float) -> None:
    from .triggering import BatchItem, trigger, validate_body

    task = str(raw.get("task", "unknown"))
    if _queue_full(state, batch, at):
        batch.failures.append(
            {
                "index": index,
                "taskIdentifier": task,
                "error": "Cannot trigger a run: the queue size limit for this environment has been reached. "
                f"The maximum size is {state.config.queue_size_limit}",
                "errorCode": QUEUE_SIZE_LIMIT_EXCEEDED,
            }
        )
        return
    if "__error" in raw:
        batch.item_runs[index] = _failed_run(state, batch, task, "PAYLOAD_TOO_LARGE", at)
        return
    try:
        item = validate_body(BatchItem, raw)
        run, _ = trigger(
            state, batch.env, task, item, None, batch_id=batch.id, trigger_function="batchTrigger", at=at
        )
    except ApiError:
        batch.item_runs[index] = _failed_run(state, batch, task, "BATCH_ITEM_COULD_NOT_TRIGGER", at)
    else:
        batch.item_runs[index] = run.id


def _failed_run(state: EmulatorState, batch: Batch, task: str, code: str, at: float) -> str:
    """``TriggerFailedTaskService``: a run created already in SYSTEM_FAILURE, with an INTERNAL_ERROR."""
    run = Run(
        id=friendly_id("run"),
        internal_id="cm" + secrets.token_hex(12),
        env=batch.env,
        task=task,
        payload=dumps({}),
        payload_type="application/json",
        created_at=at,
        duration=0.0,
        queue_time=0.0,
        final_status="SYSTEM_FAILURE",
        output=None,
        error=internal_error(code),
        queue=f"task/{task}",
        batch_id=batch.id,
        trigger_function="batchTrigger",
        number=len(state.stores.runs) + 1,
    )
    state.stores.runs[run.id] = run
    return run.id


def _complete(state: EmulatorState, batch: Batch, at: float) -> None:
    """``handleBatchCompletion``: status, run ids (item order), counts and errors, written once."""
    failed = len(batch.failures)
    ok = len(batch.item_runs)
    batch.status = "ABORTED" if failed and not ok else "PARTIAL_FAILED" if failed else "PENDING"
    batch.run_ids = dict(sorted(batch.item_runs.items()))
    batch.successful_count, batch.failed_count = ok, failed
    if batch.failures and all(f["errorCode"] == QUEUE_SIZE_LIMIT_EXCEEDED for f in batch.failures):
        sample = dict(batch.failures[0])
        sample["error"] = f"{sample['error']} ({failed} items in this batch failed with the same error)"
        batch.errors = [sample]
    else:
        batch.errors = [dict(f) for f in batch.failures]
    batch.processed_at = batch.updated_at = max(at, batch.sealed_at or at)
    state.version += 1


def status(state: EmulatorState, batch: Batch) -> tuple[str, float]:
    """(public status, updatedAt) at the state's clock."""
    if not batch.streamed:
        return _legacy_status(state, batch)
    if not batch.sealed:
        return "PENDING", batch.updated_at
    if batch.processed_at is None:
        return "PROCESSING", batch.updated_at
    if batch.status == "ABORTED":
        return "ABORTED", batch.updated_at
    now = state.now()
    views = [state.view(state.stores.runs[r], now) for r in batch.run_ids.values()]
    if all(v.finished for v in views):
        return "COMPLETED", max([batch.updated_at, *(v.updated_at for v in views)])
    return batch.status, batch.updated_at


def _legacy_status(state: EmulatorState, batch: Batch) -> tuple[str, float]:
    """v1/v2 ``tasks/batch`` batches: runs exist at once; PROCESSING until they are all final."""
    now = state.now()
    views = [state.view(state.stores.runs[r], now) for r in batch.run_ids.values() if r]
    updated = max([batch.updated_at, *(v.updated_at for v in views)])
    if all(v.finished for v in views):
        return "COMPLETED", updated
    return "PROCESSING", updated
