"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from .. import prom_metrics
from .deps import ServiceDep

router = APIRouter(tags=["system"])


@router.get("/health")
def health(service: ServiceDep) -> dict:
    stored = service.production_model()
    return {
        "status": "ok",
        "model_loaded": stored is not None,
        "production_version": stored.version if stored else None,
        "scheduler_running": bool(service.scheduler.running),
    }


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    body, content_type = prom_metrics.render()
    return Response(body, media_type=content_type)
