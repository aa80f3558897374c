"""What every Trigger.dev operator shares: the connection id and a lazily built hook."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_trigger.hooks import TriggerHook


class TriggerBaseOperator(BaseOperator):
    """Holds ``trigger_conn_id``; the hook (and so the connection) is resolved on first use, never in
    ``__init__``, which also runs at DAG parse time."""

    def __init__(self, *, trigger_conn_id: str = TriggerHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_conn_id = trigger_conn_id

    @cached_property
    def hook(self) -> TriggerHook:
        return TriggerHook(trigger_conn_id=self.trigger_conn_id)
