"""How large a run's output may be to become an XCom value: fail clearly instead of at the database.

What Airflow 3.3 itself limits (read in the installed source):

- no configuration option caps an XCom's size (``[core] max_map_length`` only caps mapping);
- the task process sends the value to the supervisor in one msgpack frame of less than 4 GiB
  (``airflow/sdk/execution_time/comms.py``), then the execution API stores it in ``xcom.value``, a
  ``JSON`` column (``JSONB`` on PostgreSQL; ``airflow/models/xcom.py``);
- so the real ceiling is the metadata database's: MySQL refuses a statement larger than
  ``max_allowed_packet`` (64 MiB by default in 8.0), a PostgreSQL ``jsonb`` value is at most 255 MiB,
  SQLite a value of 1 GB. Each XCom is also held in memory by the worker, the API server and the UI.

This provider refuses, before pushing, an output larger than ``DEFAULT_MAX_BYTES`` (48 MiB: under
MySQL's default, with room for serialization overhead) unless an XCom backend is configured (a
subclass of ``BaseXCom`` in ``[core] xcom_backend`` decides where large values go, e.g.
``XComObjectStorageBackend``). ``[trigger] xcom_max_bytes`` (``AIRFLOW__TRIGGER__XCOM_MAX_BYTES``)
changes the limit; ``0`` turns the check off.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, conf

DEFAULT_MAX_BYTES = 48 * 1024 * 1024


class XComTooLargeError(AirflowException):
    """A run's output is too large to be pushed to XCom."""


def _size_text(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _custom_backend() -> str | None:
    """The configured XCom backend's name when it is not Airflow's default (it handles large values)."""
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time.xcom import XCom

    return None if XCom is BaseXCom else f"{XCom.__module__}.{XCom.__qualname__}"


def xcom_max_bytes() -> int:
    """``[trigger] xcom_max_bytes``, or ``DEFAULT_MAX_BYTES``."""
    return conf.getint("trigger", "xcom_max_bytes", fallback=DEFAULT_MAX_BYTES)


def check_xcom_size(value: Any, *, what: str, run_id: str | None = None, push: bool = True) -> None:
    """Raise :class:`XComTooLargeError` naming the size and the ways out when ``value`` (serialized as
    JSON) exceeds the limit and no XCom backend is configured to take it; nothing when ``push`` is off."""
    if not push or value is None:
        return
    limit = xcom_max_bytes()
    if limit <= 0 or _custom_backend() is not None:
        return
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
    if size <= limit:
        return
    source = f" of Trigger.dev run {run_id}" if run_id else ""
    raise XComTooLargeError(
        f"The {what}{source} is {_size_text(size)} as JSON, more than the {_size_text(limit)} this "
        "provider pushes to XCom (the metadata database stores each XCom in one JSON column). Return a "
        "smaller value from the task (e.g. write the data to your own storage and return its location), "
        "configure an XCom backend that offloads large values ([core] xcom_backend, e.g. "
        "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend), set do_xcom_push=False, or "
        "raise the limit with AIRFLOW__TRIGGER__XCOM_MAX_BYTES if your database accepts larger values."
    )
