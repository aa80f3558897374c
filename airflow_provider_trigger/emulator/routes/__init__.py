"""Route modules, one per API group; ``ROUTERS`` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    batches,
    bulk,
    control,
    deployments,
    envvars,
    observability,
    packets,
    queues,
    realtime,
    run_details,
    runs,
    schedules,
    sessions,
    tasks,
    tokens,
    waitpoints,
)

ROUTERS: list[APIRouter] = [
    tasks.router,
    batches.router,
    runs.router,
    run_details.router,
    bulk.router,
    envvars.router,
    schedules.router,
    queues.router,
    waitpoints.router,
    realtime.router,
    tokens.router,
    sessions.router,
    observability.router,
    packets.router,
    deployments.router,
    control.router,
    control.page_router,
]
