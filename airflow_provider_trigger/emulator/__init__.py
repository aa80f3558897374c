"""A local, in-memory stand-in for the Trigger.dev API (management + realtime), for tests and demos.

>>> from airflow_provider_trigger.emulator import EmulatorServer, TaskBehaviour
>>> with EmulatorServer() as emu:
...     emu.state.set_task(TaskBehaviour("hello", duration=0.5))
...     # point a client at emu.base_url with emu.secret_key
"""

from __future__ import annotations

from .app import create_app
from .faults import FaultInjector, RateLimit
from .models import TaskBehaviour
from .server import EmulatorServer
from .state import EmulatorConfig, EmulatorState, ManualClock

__all__ = [
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "FaultInjector",
    "ManualClock",
    "RateLimit",
    "TaskBehaviour",
    "create_app",
]
