"""Live monitoring: realised metrics, shadow, drift, freshness and the monitor's actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..monitoring.report import monitoring_payload
from .deps import ServiceDep
from .schemas import Message

router = APIRouter(prefix="/api/ml/monitoring", tags=["monitoring"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Message} for code in (404, 422, 503)}


@router.get("", responses=ERRORS)
def monitoring(
    service: ServiceDep,
    since: Annotated[
        str | None,
        Query(
            description="Realised metrics of as-of dates from this ISO date on",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
        ),
    ] = None,
) -> dict[str, Any]:
    """The last monitoring report (or realised metrics since a date), with the empty state
    spelled out when nothing was logged yet."""
    return monitoring_payload(service, since=since)


@router.get("/{version}", responses=ERRORS)
def monitoring_of_version(version: str, service: ServiceDep) -> dict[str, Any]:
    """One version's realised metrics, live and backfilled, beside its deploy-time claim."""
    return service.monitor.version_report(version)
