"""Request and response bodies (the seed's JSON shapes)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

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


class RollbackResponse(BaseModel):
    success: bool
    message: str
    version: str
    previous_version: str | None = None


class StatusResponse(BaseModel):
    running: bool
    retraining: bool
    current_metrics: dict[str, Any]
    next_retraining: str | None
    scheduled_jobs: list[dict[str, Any]]
    model_path: str
    backup_path: str
    production_version: str | None = None
    last_run: dict[str, Any] | None = None


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


class Prediction(BaseModel):
    ticker: str
    probability_up: float
    direction: str
    as_of: str
    horizon_days: int
    model_version: str


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class HistoryPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]
