"""What the tests need from Airflow, on every supported 3.x minor: the imports that moved between
minors, and the skip markers for features an older minor lacks (each naming the version it needs).

A test of a 3.3-only feature carries ``needs_airflow_3_3(...)`` and is skipped below 3.3 with that
reason; the feature's fallback on older minors is tested by a test marked ``only_below_3_3(...)``.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.module_loading import import_string
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_trigger._compat import (
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_2_PLUS,
    AIRFLOW_V_3_3_PLUS,
    AIRFLOW_VERSION_TEXT,
    needs_airflow,
)

try:  # Airflow 3.2+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag  # type: ignore[attr-defined,no-redef]

try:  # Airflow 3.3+ (common-compat does not map this one)
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:
    from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef]

try:  # Airflow 3.2+
    from airflow.sdk.serde import deserialize, serialize
except ImportError:
    from airflow.serialization.serde import deserialize, serialize  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_VERSION_TEXT",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "DagBag",
    "TaskDeferred",
    "deserialize",
    "import_string",
    "needs_airflow_3_1",
    "needs_airflow_3_3",
    "only_below_3_3",
    "run_trigger_workload",
    "secrets_masker",
    "serialize",
    "sync_bundle_to_db",
]


def needs_airflow_3_3(feature: str) -> Any:
    """Skip below Airflow 3.3, naming the feature (the fallback has its own ``only_below_3_3`` test)."""
    return pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason=needs_airflow("3.3", feature))


def needs_airflow_3_1(feature: str) -> Any:
    """Skip on Airflow 3.0, naming what 3.0 lacks."""
    return pytest.mark.skipif(not AIRFLOW_V_3_1_PLUS, reason=needs_airflow("3.1", feature))


def run_trigger_workload(
    trigger_id: int,
    classpath: str,
    encrypted_kwargs: str,
    watched_assets: dict[str, str] | None,
    ti: Any = None,
) -> Any:
    """The triggerer's ``RunTrigger`` workload, on every minor: its module moved in 3.2, ``ti`` is
    required before 3.3, ``watched_assets`` (the state store) is 3.3+. ``ti``: a deferred task's
    instance (:func:`task_instance_workload`), ``None`` for an asset watcher."""
    try:
        from airflow.executors.workloads.trigger import RunTrigger
    except ImportError:
        from airflow.executors.workloads import RunTrigger  # type: ignore[attr-defined,no-redef]
    fields: dict[str, Any] = {"ti": ti}
    if "watched_assets" in RunTrigger.model_fields:
        fields["watched_assets"] = watched_assets
    return RunTrigger(id=trigger_id, classpath=classpath, encrypted_kwargs=encrypted_kwargs, **fields)


def task_instance_workload(task_id: str) -> Any:
    """The task instance a triggerer gets with a deferred task's trigger (``TaskInstanceDTO``)."""
    import uuid

    try:
        from airflow.executors.workloads.task import TaskInstanceDTO as TI
    except ImportError:
        from airflow.executors.workloads import TaskInstance as TI  # type: ignore[attr-defined,no-redef]
    fields = {"pool_slots": 1, "priority_weight": 1} if "pool_slots" in TI.model_fields else {}
    return TI(
        id=uuid.uuid4(),
        task_id=task_id,
        dag_id="dag",
        run_id="manual__1",
        try_number=1,
        dag_version_id=uuid.uuid4(),
        map_index=-1,
        **fields,
    )


def sync_bundle_to_db(bundle: Any) -> None:
    """Parse a DAG bundle and write its DAGs, assets and watcher triggers to the DB (the DAG processor)."""
    try:  # Airflow 3.2+
        from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    except ImportError:
        bag = DagBag(dag_folder=bundle.path, bundle_path=bundle.path, include_examples=False)
        if hasattr(bag, "sync_to_db"):  # Airflow 3.0
            bag.sync_to_db(bundle.name, bundle.version)
        else:  # Airflow 3.1
            from airflow.models.dagbag import sync_bag_to_db as sync_31  # type: ignore[attr-defined]

            sync_31(bag, bundle.name, bundle.version)
        return
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    sync_bag_to_db(bag, bundle.name, bundle.version)


def secrets_masker() -> Any:
    """The process's secrets masker (a logging filter); its module moved in Airflow 3.1."""
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    except ImportError:
        from airflow.sdk.execution_time.secrets_masker import _secrets_masker  # type: ignore[no-redef]
    return _secrets_masker()


def only_below_3_3(what: str) -> Any:
    """A fallback that only exists below Airflow 3.3 (3.3 runs the feature's own tests instead)."""
    return pytest.mark.skipif(
        AIRFLOW_V_3_3_PLUS,
        reason=f"fallback for Airflow < 3.3 ({what}); this is Airflow {AIRFLOW_VERSION_TEXT}",
    )
