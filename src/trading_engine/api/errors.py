"""The API's one error shape, ``{"error": name, "message": text}``, for every failure.

``ERROR_NAMES`` is the only place a status code gets its name. The handlers below (installed
by ``server.create_app``) and the guards in ``guard.py`` all answer through ``error_response``,
so the framework's own 404, 405 and malformed-JSON errors look like the routes' errors.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import describe

logger = logging.getLogger(__name__)

ERROR_NAMES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


def error_response(
    status_code: int, message: str, headers: Mapping[str, str] | None = None, **extra: object
) -> JSONResponse:
    """The JSON error for ``status_code``; ``extra`` fields follow the two fixed ones."""
    fallback = "client_error" if status_code < 500 else "server_error"
    return JSONResponse(
        {"error": ERROR_NAMES.get(status_code, fallback), "message": message, **extra},
        status_code=status_code,
        headers=headers,
    )


def shorten(value: str, limit: int = 100) -> str:
    """``value`` cut to ``limit`` characters (marked with an ellipsis), for echoing input."""
    return value if len(value) <= limit else value[:limit] + "…"


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's HTTPException: the routes' own errors and the router's 404 and 405."""
    path = shorten(request.url.path)
    message = str(error.detail)
    if message == http.HTTPStatus(error.status_code).phrase:  # the framework's bare default
        if error.status_code == 404:
            message = f"nothing at {path}; the endpoints are listed at /docs"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {path} (allowed: {allowed})"
    return error_response(error.status_code, message, error.headers)


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """A body that is not JSON is a 400; JSON of the wrong shape is a 422."""
    errors = error.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        position = first.get("loc", ("body", "?"))[-1]
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        return error_response(
            400, f"request body is not valid JSON: {reason} at position {position}"
        )
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(
        422,
        f"{where}: {first.get('msg', 'invalid')}",
        detail=[{"loc": e.get("loc"), "msg": e.get("msg")} for e in errors],
    )


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """Anything unexpected: the traceback goes to the log, a short JSON 500 to the client."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, "internal error; the server log has the details")


async def trading_engine_error(request: Request, error: Exception) -> JSONResponse:
    """Our own exceptions: status and name come from ``errors.ERROR_TABLE`` alone."""
    code = describe(error)
    if code.http_status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"error": code.name, "message": str(error)}, status_code=code.http_status)
