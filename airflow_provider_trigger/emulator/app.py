"""The FastAPI application: routes, the server's error shapes, and the request/fault middleware."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import middleware
from .errors import ApiError
from .middleware import Receive, Scope, Send
from .routes import ROUTERS
from .state import EmulatorState

log = logging.getLogger(__name__)


class EmulatorApp(FastAPI):
    """FastAPI whose outermost layer is the emulator middleware (so it sees uvicorn's own ``send``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: EmulatorState = self.state.emulator
        await middleware.handle(state, scope, receive, send, super().__call__)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"path": list(e.get("loc", [])), "message": e.get("msg", "")} for e in exc.errors()]
    return JSONResponse({"error": "Params Error", "details": details}, status_code=400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return JSONResponse({"error": "Method not allowed"}, status_code=405)
    if exc.status_code == 404:
        return JSONResponse({"error": "Not found"}, status_code=404)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("emulator bug", exc_info=exc)
    return JSONResponse({"error": "Internal Server Error", "emulatorBug": repr(exc)}, status_code=500)


def create_app(state: EmulatorState | None = None) -> FastAPI:
    """Build the emulator's ASGI app around ``state`` (a fresh :class:`EmulatorState` by default)."""
    app = EmulatorApp(title="Trigger.dev API emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = state or EmulatorState()
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    for router in ROUTERS:
        app.include_router(router)
    return app
