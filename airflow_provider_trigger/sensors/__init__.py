"""Airflow sensors for Trigger.dev runs and waitpoint tokens."""

from __future__ import annotations

from airflow_provider_trigger.sensors.runs import TriggerRunSensor
from airflow_provider_trigger.sensors.waitpoints import TriggerWaitpointSensor

__all__ = ["TriggerRunSensor", "TriggerWaitpointSensor"]
