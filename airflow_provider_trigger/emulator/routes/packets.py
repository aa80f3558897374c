"""Packets: the presign routes (``/api/v1/packets/*``, ``/api/v2/packets/*``) and the object store's
presigned GET/PUT (``/objects/packets/<ref>/<env>/<path>``), which refuses credentials as S3 does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..auth import secret_env
from ..errors import ApiError
from ..models import Environment
from ..packets import BUCKET, PacketStore, s3_error
from .common import state_of
from .realtime import _authenticate

router = APIRouter()
INVALID_PATH = "Invalid packet storage path"


def safe_path(path: str) -> str:
    """``resolveSafePacketRelativePath``: no empty, ``.``/``..`` segments, leading ``/`` or backslash."""
    if not path or path.startswith("/") or "\\" in path:
        raise ApiError(400, INVALID_PATH)
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise ApiError(400, INVALID_PATH)
    return path


def _presign(request: Request, env: Environment, path: str, method: str) -> str:
    state = state_of(request)
    return state.packets.presign(
        str(request.base_url), PacketStore.key(env, safe_path(path)), method, state.now()
    )


@router.get("/api/v1/packets/{path:path}")
async def presign_get(path: str, request: Request) -> dict[str, str]:
    """A presigned GET for an ``application/store`` path (secret key or public JWT)."""
    env, _ = _authenticate(request)
    return {"presignedUrl": _presign(request, env, path, "GET")}


@router.put("/api/v1/packets/{path:path}")
async def presign_put_v1(path: str, request: Request) -> JSONResponse:
    try:
        env = secret_env(request)
    except ApiError:
        return JSONResponse({"error": "Invalid or Missing API key"}, 401)
    return JSONResponse({"presignedUrl": _presign(request, env, path, "PUT")})


@router.put("/api/v2/packets/{path:path}")
async def presign_put_v2(path: str, request: Request) -> JSONResponse:
    """The SDK's upload presign: ``{presignedUrl, storagePath}`` (the path goes in ``payload``)."""
    try:
        env = secret_env(request)
    except ApiError:
        return JSONResponse({"error": "Invalid or Missing API key"}, 401)
    url = _presign(request, env, path, "PUT")
    return JSONResponse({"presignedUrl": url, "storagePath": path})


def _refuse(status: int, code: str, message: str, resource: str) -> Response:
    return Response(s3_error(code, message, resource), status, media_type="application/xml")


def _checked(request: Request, method: str) -> tuple[str, Response | None]:
    """The object key, or an S3 refusal: credentials besides the signed query, a bad or expired signature."""
    state = state_of(request)
    path: str = request.scope["path"]
    key = path.removeprefix(f"/{BUCKET}/")
    query: dict[str, Any] = dict(request.query_params)
    if request.headers.get("authorization"):
        message = (
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
            "query string parameter or the Authorization header should be specified"
        )
        return key, _refuse(403, "InvalidArgument", message, path)
    refusal = state.packets.check(method, path, query, state.now())
    if refusal is not None:
        return key, _refuse(403, *refusal, path)
    return key, None


@router.get(f"/{BUCKET}/{{key:path}}")
async def get_object(key: str, request: Request) -> Response:
    """A presigned GET: the stored bytes with the content type they were uploaded with."""
    key, refused = _checked(request, "GET")
    if refused is not None:
        return refused
    found = state_of(request).packets.get(key)
    if found is None:
        return _refuse(404, "NoSuchKey", "The specified key does not exist.", request.scope["path"])
    return Response(found.data, 200, media_type=found.content_type, headers={"etag": f'"{found.etag}"'})


@router.put(f"/{BUCKET}/{{key:path}}")
async def put_object(key: str, request: Request) -> Response:
    """A presigned PUT: stores the body under its ``Content-Type``."""
    key, refused = _checked(request, "PUT")
    if refused is not None:
        return refused
    data = await request.body()
    content_type = request.headers.get("content-type") or "application/octet-stream"
    stored = state_of(request).packets.put(key, data, content_type)
    return Response(b"", 200, headers={"etag": f'"{stored.etag}"'})
