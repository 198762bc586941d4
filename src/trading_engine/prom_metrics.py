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

from .records import METRIC_KEYS, RollbackResult, RunRecord

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


def set_model_metrics(metrics: dict[str, Any]) -> None:
    for key in METRIC_KEYS:
        value = metrics.get(key)
        if isinstance(value, int | float):
            MODEL_METRIC.labels(metric=key).set(value)


def observe_run(run: RunRecord) -> None:
    RETRAIN_RUNS.labels(outcome=run.outcome).inc()
    RETRAIN_DURATION.observe(run.duration_seconds or 0.0)
    if run.outcome == "deployed":
        if run.finished_at:
            LAST_SUCCESS.set(datetime.fromisoformat(run.finished_at).timestamp())
        if run.metrics:
            set_model_metrics(run.metrics.to_json())
    if run.outcome == "rejected" and run.gates:
        for gate in run.gates.failed:
            GATE_REJECTIONS.labels(gate=gate.name).inc()


def observe_rollback(result: RollbackResult, metrics: dict[str, Any]) -> None:
    ROLLBACKS.inc()
    set_model_metrics(metrics)


def initialize_metrics(service: ModelRetrainingService) -> None:
    """Seed the gauges from the store and subscribe to the service's events."""
    set_model_metrics(service.registry.production_metrics())
    _, deployed = service.registry.history(limit=1, outcome="deployed")
    if deployed and deployed[0].finished_at:
        LAST_SUCCESS.set(datetime.fromisoformat(deployed[0].finished_at).timestamp())
    if observe_run not in service.on_run:
        service.on_run.append(observe_run)
    if observe_rollback not in service.on_rollback:
        service.on_rollback.append(observe_rollback)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
