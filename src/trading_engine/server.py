"""The FastAPI app: the seed's endpoints, jobs, history, models, predict, health, metrics, and
the dashboard (``web``)."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from . import __version__, prom_metrics, web
from .api import errors, models, monitoring, retraining, system
from .api.guard import BodyLimit, WriteGuard
from .config import Settings, get_settings
from .errors import ConfigError, TradingEngineError
from .logging_setup import configure_logging
from .model_retraining import ModelRetrainingService, start_retraining_scheduler

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to listen beyond this machine without an API token."""
    if not is_loopback(host) and settings.server.api_token is None:
        raise ConfigError(
            f"refusing to listen on {host} without an API token: set "
            "TRADING_ENGINE_SERVER__API_TOKEN (or server.api_token), or bind 127.0.0.1"
        )


def create_app(
    service: ModelRetrainingService | None = None,
    *,
    settings: Settings | None = None,
    start_scheduler: bool = True,
) -> FastAPI:
    """The app; tests pass their own service and may leave the scheduler off."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service.recover()  # import, close dead jobs, repair files: never fatal
        try:
            prom_metrics.initialize_metrics(app.state.service)
        except TradingEngineError as error:
            logger.error("metrics not initialised: %s", error)
        if start_scheduler:
            try:
                if service is None:
                    start_retraining_scheduler()
                else:
                    app.state.service.start_scheduler()
                logger.info("Model retraining scheduler started successfully")
            except Exception as error:  # the API still serves without a scheduler
                logger.error("Failed to start retraining scheduler: %s", error)
        yield
        app.state.service.stop_scheduler()
        logger.info("Application shutting down")

    if service is None:
        from .model_retraining import get_retraining_service

        service = get_retraining_service()
    settings = settings or service.settings
    configure_logging(settings.paths.logs_dir)
    app = FastAPI(title="trading-engine", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.service = service
    app.state.predictor = service.predictor()
    service.on_run.append(lambda run: app.state.predictor.invalidate())

    # Every error is {"error", "message"}: starlette's HTTPException covers FastAPI's and the
    # router's own 404 and 405; a 500 is logged with its traceback, then re-raised by Starlette.
    # Starlette types a handler as taking any Exception, so one for a subclass is refused
    # (Kludex/starlette#2417); Starlette only calls it with the class it is registered for.
    app.add_exception_handler(HTTPException, errors.http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, errors.validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(TradingEngineError, errors.trading_engine_error)
    app.add_exception_handler(Exception, errors.internal_error)
    # Added last runs first: refuse foreign writes before reading any body.
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    app.add_middleware(WriteGuard, settings=settings.server)

    for router in (retraining.router, models.router, monitoring.router, system.router):
        app.include_router(router)
    web.install(app)  # the dashboard at /, reading the same service
    return app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a one-line ConfigError (port in use, no such
    address, no permission) before anything else starts."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
    except OSError as error:
        sock.close()
        reason = {
            errno.EADDRINUSE: "the port is already in use (another server?); choose another "
            "with --port or server.port",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "this machine has no such address",
        }.get(error.errno or 0, (error.strerror or str(error)).lower())
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    return sock


def serve(host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn (one worker: the scheduler must run once).

    The socket is bound first, so a port in use is one line before the service starts.
    """
    import uvicorn

    settings = get_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    check_bind(settings, host)
    sock = listen(host, port)
    with sock:
        server = uvicorn.Server(
            uvicorn.Config(create_app(), host=host, port=port, log_level="info")
        )
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port
        )
        server.run(sockets=[sock])
