"""Prometheus metrics of the service (prometheus-client), exposed at ``GET /metrics``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from .model_retraining import ModelRetrainingService

REGISTRY = CollectorRegistry()
RETRAIN_RUNS = Counter(
    "trading_engine_retrain_runs_total", "Retrain runs by outcome", ["outcome"], registry=REGISTRY
)
RETRAIN_DURATION = Histogram(
    "trading_engine_retrain_duration_seconds",
    "Wall time of a retrain run",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "trading_engine_last_successful_retrain_timestamp_seconds",
    "Unix time of the last retrain that deployed a model",
    registry=REGISTRY,
)
MODEL_METRIC = Gauge(
    "trading_engine_model_metric",
    "Holdout metrics of the production model",
    ["metric"],
    registry=REGISTRY,
)
GATE_REJECTIONS = Counter(
    "trading_engine_gate_rejections_total",
    "Candidates rejected, by failing gate",
    ["gate"],
    registry=REGISTRY,
)
ROLLBACKS = Counter("trading_engine_rollbacks_total", "Rollbacks performed", registry=REGISTRY)
PREDICTIONS = Counter(
    "trading_engine_predictions_total", "Ticker predictions served", registry=REGISTRY
)
PREDICTION_LATENCY = Histogram(
    "trading_engine_prediction_latency_seconds",
    "Latency of a predict request",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
    registry=REGISTRY,
)
GAUGED = ("f1_score", "accuracy", "precision", "recall", "roc_auc", "cv_mean", "cv_std")


def set_model_metrics(metrics: dict[str, Any]) -> None:
    for key in GAUGED:
        value = metrics.get(key)
        if isinstance(value, int | float):
            MODEL_METRIC.labels(metric=key).set(value)


def observe_run(run: dict[str, Any]) -> None:
    RETRAIN_RUNS.labels(outcome=run["outcome"]).inc()
    RETRAIN_DURATION.observe(run.get("duration_seconds", 0.0))
    if run["outcome"] == "deployed":
        LAST_SUCCESS.set(datetime.fromisoformat(run["finished_at"]).timestamp())
        set_model_metrics(run.get("metrics") or {})
    for gate in (run.get("gates") or {}).get("gates", []):
        if not gate["passed"] and run["outcome"] == "rejected":
            GATE_REJECTIONS.labels(gate=gate["name"]).inc()


def observe_rollback(result: dict[str, Any], metrics: dict[str, Any]) -> None:
    ROLLBACKS.inc()
    set_model_metrics(metrics)


def initialize_metrics(service: ModelRetrainingService) -> None:
    """Seed the gauges from the registry and subscribe to the service's events (the seed's name)."""
    record = service.registry.read_record()
    set_model_metrics(record.get("metrics") or record)
    deployed = [run for run in record["history"] if run.get("outcome") == "deployed"]
    if deployed and deployed[-1].get("finished_at"):
        LAST_SUCCESS.set(datetime.fromisoformat(deployed[-1]["finished_at"]).timestamp())
    if observe_run not in service.on_run:
        service.on_run.append(observe_run)
    if observe_rollback not in service.on_rollback:
        service.on_rollback.append(observe_rollback)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
