"""The seed's retraining endpoints plus jobs and history. Thin: errors map in one table."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status

from .deps import ServiceDep, WriteAccess
from .schemas import (
    HistoryPage,
    JobResponse,
    Message,
    RollbackRequest,
    RollbackResponse,
    StatusResponse,
    TriggerResponse,
)

router = APIRouter(prefix="/api/ml/retraining", tags=["retraining"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Message} for code in (401, 403, 404, 409, 413, 422, 503)
}


@router.get("/status", response_model=StatusResponse)
def retraining_status(service: ServiceDep) -> dict:
    return service.get_status()


@router.post(
    "/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TriggerResponse,
    responses=ERRORS,
    dependencies=[WriteAccess],
)
def trigger_retraining(
    service: ServiceDep,
    force: Annotated[bool, Query(description="Deploy even if gates fail (recorded)")] = False,
    full: Annotated[bool, Query(description="Weekly-style full retrain with tuning")] = False,
) -> TriggerResponse:
    job = service.start_retrain_job(force=force, full=full)
    return TriggerResponse(job_id=job.job_id, message="Retraining job started in background")


@router.post(
    "/rollback", response_model=RollbackResponse, responses=ERRORS, dependencies=[WriteAccess]
)
def rollback(
    service: ServiceDep,
    body: Annotated[RollbackRequest | None, Body()] = None,
    version: Annotated[str | None, Query(description="Version id; omit for the backup")] = None,
    expected_version: Annotated[
        str | None, Query(description="Only if this version is still production")
    ] = None,
) -> RollbackResponse:
    return service.rollback(
        version or (body.version if body else None),
        expected_version=expected_version or (body.expected_version if body else None),
    )


@router.get("/jobs/{job_id}", response_model=JobResponse, responses=ERRORS)
def job_state(job_id: str, service: ServiceDep) -> JobResponse:
    job = service.get_job(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id[:60]!r}")
    return job


@router.get("/history", response_model=HistoryPage)
def history(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    outcome: Annotated[
        Literal["running", "deployed", "rejected", "failed", "interrupted", "skipped"] | None,
        Query(description="Only runs with this outcome"),
    ] = None,
) -> HistoryPage:
    total, runs = service.registry.history(limit, offset, outcome)
    return HistoryPage(total=total, limit=limit, offset=offset, items=runs)
