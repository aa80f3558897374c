"""TaskFlow: ``@task.trigger_dev`` turns a function returning a payload into a Trigger.dev run.

The task triggers ``task_identifier`` with the payload, waits for the run (here or, with
``deferrable=True``, in the triggerer) and returns the run's output to downstream tasks.
Needs a ``trigger_default`` connection, e.g. ``AIRFLOW_CONN_TRIGGER_DEFAULT='trigger://:tr_dev_…@'``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["trigger.dev"])
def example_trigger_decorator() -> None:
    @task
    def customer() -> str:
        return "Lin"

    @task.trigger_dev(task_identifier="hello-world", poll_interval=1)
    def greet(name: str, greeting: str = "Hello") -> dict[str, Any]:
        return {"name": name, "greeting": greeting}

    @task.trigger_dev(task_identifier="resize", deferrable=True, poll_interval=1)
    def resize(image: str, width: int) -> dict[str, Any]:
        return {"image": image, "width": width}

    @task
    def report(greeting: dict[str, Any], sizes: list[dict[str, Any]]) -> str:
        return f"{greeting['greeting']} {greeting['name']}: {len(sizes)} images resized"

    greet.override(task_id="greet_ada")("Ada", greeting="Hi")  # plain arguments
    greeting = greet(customer())  # an XComArg: the upstream task's return value
    sizes = resize.partial(width=640).expand(image=["a.png", "b.png"])  # one run per image, deferred
    report(greeting, sizes)


example_trigger_decorator()
