"""Model information, versions and predictions."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter

from .. import prom_metrics
from ..errors import StoreUnavailable
from .deps import PredictorDep, ServiceDep
from .schemas import Message, ModelInfo, PredictRequest, PredictResponse, VersionsResponse

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/ml", tags=["models"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}, 503: {"model": Message}}


@router.get("/model/info", response_model=ModelInfo, responses=NOT_FOUND)
def model_info(service: ServiceDep) -> ModelInfo:
    stored = service.production.require()
    model = stored.model
    return ModelInfo(
        model_path=str(service.registry.prod_path),
        backup_path=str(service.registry.backup_path),
        metrics=model.metrics,
        features=list(model.feature_names),
        feature_count=len(model.feature_names),
        version=stored.version,
        train_start=model.train_start,
        train_end=model.train_end,
        horizon=model.horizon,
        data=stored.metadata.get("data_source"),
    )


@router.get("/models", response_model=VersionsResponse, responses=NOT_FOUND)
def model_versions(service: ServiceDep) -> VersionsResponse:
    pointers = service.registry.pointers()
    return VersionsResponse(
        production=pointers.get("production"),
        backup=pointers.get("backup"),
        versions=service.registry.versions(),
    )


@router.post("/predict", response_model=PredictResponse, responses=NOT_FOUND)
def predict(request: PredictRequest, predictor: PredictorDep, service: ServiceDep) -> dict:
    started = time.perf_counter()
    predictions = predictor.predict(request.tickers)
    try:  # into the prediction log; a store that cannot be written never fails a prediction
        service.monitor.log_served(predictions, "api")
    except StoreUnavailable as error:
        logger.warning("prediction not logged: %s", error)
    prom_metrics.PREDICTIONS.inc(len(predictions))
    prom_metrics.PREDICTION_LATENCY.observe(time.perf_counter() - started)
    return {"predictions": predictions}
