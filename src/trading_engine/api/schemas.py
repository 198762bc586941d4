"""Request and response bodies (the seed's JSON shapes), built from the typed records."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from ..records import DataRecord, Job, Prediction, RollbackResult, RunRecord, VersionInfo
from .errors import shorten

TICKER = re.compile(r"[A-Za-z0-9.\-^=_]{1,15}")  # AAPL, BRK-B, BRK.B, ^GSPC, EURUSD=X


class Message(BaseModel):
    error: str
    message: str


class TriggerResponse(BaseModel):
    job_id: str
    status: str = "started"
    message: str


class RollbackRequest(BaseModel):
    version: str | None = Field(None, description="Version id; omit to roll back to the backup")
    expected_version: str | None = Field(
        None, description="Roll back only if this is still production (concurrent callers)"
    )


RollbackResponse = RollbackResult
JobResponse = Job


class ScheduledJob(BaseModel):
    id: str
    name: str
    next_run_time: str | None
    trigger: str


class StatusResponse(BaseModel):
    running: bool
    retraining: bool
    current_metrics: dict[str, float | None]
    next_retraining: str | None
    scheduled_jobs: list[ScheduledJob]
    model_path: str
    backup_path: str
    production_version: str | None = None
    backup_version: str | None = None
    last_run: RunRecord | None = None


class ModelInfo(BaseModel):
    model_path: str
    backup_path: str
    metrics: dict[str, Any]
    features: list[str]
    feature_count: int
    version: str
    train_start: str
    train_end: str
    horizon: int
    data: DataRecord | None = None  # the market it was trained on; predict reads it


class VersionsResponse(BaseModel):
    production: str | None
    backup: str | None
    versions: list[VersionInfo]


def _check_ticker(value: str) -> str:
    if not TICKER.fullmatch(value):
        raise PydanticCustomError(
            "ticker",
            "{ticker} is not a ticker: expected 1-15 characters of A-Z a-z 0-9 . - ^ = _",
            {"ticker": repr(shorten(value, 20))},
        )
    return value


Ticker = Annotated[
    str, AfterValidator(_check_ticker), Field(json_schema_extra={"pattern": f"^{TICKER.pattern}$"})
]


class PredictRequest(BaseModel):
    tickers: list[Ticker] = Field(..., min_length=1, max_length=500, examples=[["AAPL", "MSFT"]])


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class HistoryPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[RunRecord]


class Health(BaseModel):
    status: str
    model_loaded: bool
    production_version: str | None
    scheduler_running: bool
    problem: str | None = None
