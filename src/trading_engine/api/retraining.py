"""The seed's retraining endpoints plus jobs and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status

from ..errors import AlreadyRunning, RegistryError
from .deps import ServiceDep, WriteAccess
from .schemas import (
    HistoryPage,
    Message,
    RollbackRequest,
    RollbackResponse,
    StatusResponse,
    TriggerResponse,
)

router = APIRouter(prefix="/api/ml/retraining", tags=["retraining"])
ERRORS = {401: {"model": Message}, 404: {"model": Message}, 409: {"model": Message}}


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
) -> dict:
    try:
        job = service.start_retrain_job(force=force, full=full)
    except AlreadyRunning as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return {
        "job_id": job["job_id"],
        "status": "started",
        "message": "Retraining job started in background",
    }


@router.post(
    "/rollback", response_model=RollbackResponse, responses=ERRORS, dependencies=[WriteAccess]
)
def rollback(
    service: ServiceDep,
    body: Annotated[RollbackRequest | None, Body()] = None,
    version: Annotated[str | None, Query(description="Version id; omit for the backup")] = None,
) -> dict:
    target = version or (body.version if body else None)
    try:
        return service.rollback(target)
    except AlreadyRunning as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except RegistryError as error:
        text = str(error)
        code = (
            status.HTTP_404_NOT_FOUND
            if "not found" in text
            else (
                status.HTTP_422_UNPROCESSABLE_CONTENT
                if "not a version id" in text
                else status.HTTP_409_CONFLICT
            )
        )
        raise HTTPException(code, text) from None


@router.get("/jobs/{job_id}", responses=ERRORS)
def job_state(job_id: str, service: ServiceDep) -> dict:
    job = service.get_job(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id!r}")
    return job


@router.get("/history", response_model=HistoryPage)
def history(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    runs = list(reversed(service.registry.read_record()["history"]))
    return {
        "total": len(runs),
        "limit": limit,
        "offset": offset,
        "items": runs[offset : offset + limit],
    }
