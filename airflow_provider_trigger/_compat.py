"""Airflow version differences in one place: which Airflow 3 minor is installed, what each feature
needing a newer minor does on an older one, and the stand-ins that make older minors behave alike.

Supported: Airflow 3.0, 3.1, 3.2 and 3.3 (README "Supported Airflow versions"). Features that need
3.3 degrade with a warning or fail with an error naming the installed version, never silently.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException, Variable
from airflow.providers.common.compat.version_compat import get_base_airflow_version_tuple

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

AIRFLOW_VERSION: tuple[int, ...] = tuple(get_base_airflow_version_tuple())
"""The installed Airflow's base version, e.g. ``(3, 1, 8)``."""
AIRFLOW_VERSION_TEXT = ".".join(map(str, AIRFLOW_VERSION))
AIRFLOW_V_3_1_PLUS = AIRFLOW_VERSION >= (3, 1)
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3)


def needs_airflow(version: str, feature: str) -> str:
    """The sentence every "not on this Airflow" warning and error uses, naming both versions."""
    return f"{feature} needs Airflow {version} or later; this is Airflow {AIRFLOW_VERSION_TEXT}"


def warn_no_trigger_on_kill(log: logging.Logger | Any, what: str) -> None:
    """Below Airflow 3.3 the triggerer never calls a trigger's ``on_kill``: say so when deferring."""
    if not AIRFLOW_V_3_3_PLUS:
        log.warning(
            "%s: killing the task while it is deferred will not cancel the Trigger.dev run "
            "(cancel_on_kill only applies while the task runs on a worker).",
            needs_airflow("3.3", f"Canceling {what} when a deferred task is killed (trigger on_kill)"),
        )


def check_variables_source() -> None:
    """Below Airflow 3.3 Variables cannot be listed: refuse ``airflow_variable_prefix`` naming the version."""
    if not hasattr(Variable, "keys"):
        raise ValueError(needs_airflow("3.3", "airflow_variable_prefix (listing Variables, Variable.keys)"))


class SoftFailOnDeferralTimeout:
    """Sensor mixin: a deferral timeout with ``soft_fail=True`` skips the task on every Airflow 3 minor.

    Airflow 3.0's ``BaseSensorOperator.resume_execution`` turns the deferral timeout into
    ``AirflowSensorTimeout`` after its ``soft_fail`` check, so the task failed; 3.1+ skips it.
    """

    soft_fail: bool

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]
        except AirflowSensorTimeout as exc:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise
