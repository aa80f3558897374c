"""Apache Airflow provider for the Trigger.dev v3 management API."""

from __future__ import annotations

__version__ = "0.1.0"
