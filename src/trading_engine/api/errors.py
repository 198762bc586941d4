"""Our exceptions as JSON errors: status and name come from ``errors.ERROR_TABLE`` alone."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import TradingEngineError, describe

logger = logging.getLogger(__name__)


def error_response(
    status: int, name: str, message: str, headers: dict | None = None
) -> JSONResponse:
    return JSONResponse({"error": name, "message": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TradingEngineError)
    async def trading_engine_error(request: Request, error: TradingEngineError) -> JSONResponse:
        code = describe(error)
        if code.http_status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, error)
        return error_response(code.http_status, code.name, str(error))
