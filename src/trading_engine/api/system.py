"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from .. import prom_metrics
from ..errors import TradingEngineError
from .deps import ServiceDep
from .schemas import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(service: ServiceDep) -> Health:
    """Always JSON: ``model_loaded`` false (with the problem) when no model loads."""
    try:
        stored, problem = service.production_model(), None
    except TradingEngineError as error:
        stored, problem = None, str(error)
    return Health(
        status="ok" if stored is not None else "degraded",
        model_loaded=stored is not None,
        production_version=stored.version if stored else None,
        scheduler_running=service.scheduler_running,
        problem=problem,
    )


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    body, content_type = prom_metrics.render()
    return Response(body, media_type=content_type)
