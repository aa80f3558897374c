"""TaskFlow decorators for Trigger.dev: ``@task.trigger_dev`` (registered through the provider info)."""

from __future__ import annotations

from airflow_provider_trigger.decorators.trigger_dev import trigger_dev_task

__all__ = ["trigger_dev_task"]
