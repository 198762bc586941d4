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

REALISED = Gauge(
    "trading_engine_realised_metric",
    "Realised metrics of logged predictions whose outcome is known, by role (production or "
    "shadow, on the same rows) and metric (accuracy, roc_auc)",
    ["role", "metric"],
    registry=REGISTRY,
)
MAX_PSI = Gauge(
    "trading_engine_drift_max_psi",
    "Largest population stability index of any feature, recent window against training",
    registry=REGISTRY,
)
DATA_AGE = Gauge(
    "trading_engine_data_age_days",
    "Business days since the newest bar of the market data",
    registry=REGISTRY,
)
MONITOR_ACTIONS = Counter(
    "trading_engine_monitoring_actions_total",
    "Actions of the monitoring policies (drift_retrain, worse_than_shadow, worse_than_claim, "
    "stale_data, retrains_resumed, rollback)",
    ["action"],
    registry=REGISTRY,
)


def observe_monitoring(report: dict[str, Any]) -> None:
    """Set the monitoring gauges from a monitoring report (absent figures are left alone)."""
    comparison = report.get("comparison") or {}
    windows = report.get("windows") or {}
    sources = {
        "production": comparison.get("production")
        if comparison.get("rows")
        else (next(iter(windows.values()), None) if windows else None),
        "shadow": comparison.get("shadow") if comparison.get("rows") else None,
    }
    for role, figures in sources.items():
        for metric in ("accuracy", "roc_auc"):
            value = (figures or {}).get(metric)
            if isinstance(value, int | float):
                REALISED.labels(role=role, metric=metric).set(value)
    drift = report.get("drift") or {}
    if isinstance(drift.get("max_psi"), int | float):
        MAX_PSI.set(drift["max_psi"])
    freshness = report.get("freshness") or {}
    if isinstance(freshness.get("age_days"), int | float):
        DATA_AGE.set(freshness["age_days"])


def observe_action(action: str) -> None:
    MONITOR_ACTIONS.labels(action=action).inc()


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
    snapshot = service.monitoring_snapshot()
    if snapshot:
        observe_monitoring(snapshot)
    monitor = service.monitor
    if observe_monitoring not in monitor.on_report:
        monitor.on_report.append(observe_monitoring)
    if observe_action not in monitor.on_action:
        monitor.on_action.append(observe_action)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
