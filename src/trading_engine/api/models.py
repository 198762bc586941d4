"""Model information, versions and predictions."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, status

from .. import prom_metrics
from ..prediction import UnknownTickers
from .deps import PredictorDep, ServiceDep
from .schemas import Message, ModelInfo, PredictRequest, PredictResponse

router = APIRouter(prefix="/api/ml", tags=["models"])
NOT_FOUND = {404: {"model": Message}}


@router.get("/model/info", response_model=ModelInfo, responses=NOT_FOUND)
def model_info(service: ServiceDep) -> dict:
    stored = service.production_model()
    if stored is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no production model yet; run a retrain first"
        )
    model = stored.model
    return {
        "model_path": str(service.registry.prod_path),
        "backup_path": str(service.registry.backup_path),
        "metrics": model.metrics,
        "features": list(model.feature_names),
        "feature_count": len(model.feature_names),
        "version": stored.version,
        "train_start": model.train_start,
        "train_end": model.train_end,
        "horizon": model.horizon,
    }


@router.get("/models")
def model_versions(service: ServiceDep) -> dict:
    versions = service.registry.versions()
    by_role = {v["role"]: v["version"] for v in versions if v["role"]}
    return {
        "production": by_role.get("production"),
        "backup": by_role.get("backup"),
        "versions": versions,
    }


@router.post("/predict", response_model=PredictResponse, responses=NOT_FOUND)
def predict(request: PredictRequest, predictor: PredictorDep) -> dict:
    started = time.perf_counter()
    try:
        predictions = predictor.predict(request.tickers)
    except (UnknownTickers, LookupError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    prom_metrics.PREDICTIONS.inc(len(predictions))
    prom_metrics.PREDICTION_LATENCY.observe(time.perf_counter() - started)
    return {"predictions": predictions}
