"""Airflow sensors for Trigger.dev runs."""

from __future__ import annotations

from airflow_provider_trigger.sensors.runs import TriggerRunSensor

__all__ = ["TriggerRunSensor"]
