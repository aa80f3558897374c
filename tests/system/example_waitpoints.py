"""Waitpoint tokens both ways: a DAG that pauses until a token is completed, and a Trigger.dev run
that waits (``wait.forToken``) until an Airflow step completes its token.

Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_trigger.operators import (
    TriggerCompleteWaitpointOperator,
    TriggerCreateWaitpointOperator,
    TriggerTaskOperator,
)
from airflow_provider_trigger.sensors import TriggerRunSensor, TriggerWaitpointSensor


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def example_waitpoints() -> None:
    # Trigger.dev → Airflow: the DAG waits until whoever holds the token completes it (a Trigger.dev
    # run with wait.completeToken, or anyone POSTing to its callback URL, XCom "token_url").
    approval = TriggerCreateWaitpointOperator(task_id="create_approval", timeout="1h", tags=["airflow"])
    approve = TriggerCompleteWaitpointOperator(  # stands in for the token's holder in this example
        task_id="approve", token_id=approval.output, data={"approved": True, "by": "ops"}
    )
    wait_for_approval = TriggerWaitpointSensor(
        task_id="wait_for_approval", token_id=approval.output, deferrable=True, poke_interval=1, timeout=600
    )
    approval >> approve >> wait_for_approval

    # Airflow → Trigger.dev: the run calls wait.forToken(payload.tokenId) and goes on once the
    # warehouse load is done; its output is the data the token was completed with.
    loaded = TriggerCreateWaitpointOperator(task_id="create_load_token", timeout="1h")
    publish = TriggerTaskOperator(
        task_id="publish",
        task_identifier="publish-report",
        payload={"tokenId": loaded.output},
        wait_for_completion=False,
    )

    @task
    def load_warehouse() -> dict[str, Any]:
        return {"table": "orders", "rows": 1200}

    load_done = TriggerCompleteWaitpointOperator(
        task_id="load_done", token_id=loaded.output, data=load_warehouse()
    )
    published = TriggerRunSensor(
        task_id="published", run_id=publish.output, deferrable=True, poke_interval=1, timeout=600
    )
    wait_for_approval >> loaded
    publish >> load_done >> published


example_waitpoints()
