"""What both sensors share: how a resumed sensor treats ``soft_fail``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException, BaseSensorOperator

from airflow_provider_trigger._compat import SoftFailOnDeferralTimeout
from airflow_provider_trigger.exceptions import TriggerWaitError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class TriggerBaseSensor(SoftFailOnDeferralTimeout, BaseSensorOperator):
    """``soft_fail`` skips a timeout (on every Airflow 3 minor) and a verdict on what was awaited, never
    an infrastructure error (:class:`~airflow_provider_trigger.exceptions.TriggerWaitError`): Airflow
    would skip any ``AirflowException`` of a resumed sensor."""

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSkipException as exc:
            if isinstance(exc.__cause__, TriggerWaitError):
                raise exc.__cause__ from None
            raise
