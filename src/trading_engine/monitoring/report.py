"""The monitoring answer shared by ``trading-engine monitor`` and ``GET /api/ml/monitoring``.

Without ``since`` it reads the report the last monitoring job stored, plus the live counts
and events: no numpy, no model loaded. With ``since`` the realised part is recomputed from the
prediction log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..store.predictions import PredictionLog

if TYPE_CHECKING:
    from ..model_retraining import ModelRetrainingService

EMPTY_MONITORING = (
    "no predictions logged yet: the daily monitoring job logs production and its shadow on "
    "every ticker (monitoring.daily_hour), and so do every deploy, `predict` and "
    "/api/ml/predict; run the job now with `trading-engine monitor --run`"
)


def monitoring_payload(
    service: ModelRetrainingService, *, since: str | None = None, run_now: bool = False
) -> dict[str, Any]:
    if run_now:
        report = service.run_monitoring("manual")
    else:
        report = dict(service.monitoring_snapshot() or {})
        if since is not None:
            report.update(service.monitor.realised_report(since=since))
    ready = service.registry.ensure()
    log = PredictionLog(service.registry.db)
    counts = log.counts() if ready else dict(PredictionLog.EMPTY_COUNTS)
    empty = counts["live"] == 0 and counts["backfill"] == 0
    pointers = service.registry.pointers()
    return {
        **report,
        "production_version": pointers.get("production"),
        "shadow_version": pointers.get("backup"),
        "counts": counts,
        "empty": empty,
        "message": EMPTY_MONITORING if empty else None,
        "snapshot_at": report.get("at"),
        "retrains_paused_at": log.paused_at() if ready else None,
        "events": [event.to_json() for event in log.events(20)] if ready else [],
    }
