"""Monitoring under a year of daily predictions: logging a day, joining outcomes, the query.

Targets (issue #14): logging one day's predictions for 500 tickers under 50 ms; the
monitoring query over a year of daily predictions for 500 tickers (about 125 k rows) within
100 ms. The store holds production's rows and its shadow's on the same (ticker, as-of) pairs,
so twice that many rows in all, every one with its outcome.

Three figures for the query: what `monitor --json` and `GET /api/ml/monitoring` answer (the
stored report plus live counts and events), what `GET /api/ml/monitoring/{version}` computes
(one version's rows), and the full recomputation the daily job (and `--since`) does: realised
metrics by version, rolling windows, the paired production-vs-shadow test and the claim test.

    python bench/monitoring.py [--tickers 500] [--days 250]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import save, timed

PRODUCTION, SHADOW = "20260101_020000", "20251201_020000"


def fill(models: Path, tickers: int, days: int):
    import numpy as np

    from trading_engine.config import load_settings
    from trading_engine.model_retraining import ModelRetrainingService
    from trading_engine.store.database import VersionRow
    from trading_engine.store.predictions import LoggedPrediction, PredictionLog

    settings = load_settings(paths={"models_dir": models, "logs_dir": models.parent / "logs"})
    service = ModelRetrainingService(settings)
    registry = service.registry
    registry.ensure()
    metrics = {"accuracy": 0.55, "roc_auc": 0.56, "train_base_rate": 0.53}
    with registry.db.transaction() as connection:
        for version, role in ((PRODUCTION, "production"), (SHADOW, "backup")):
            registry.db.add_version(
                connection, VersionRow(version, "0" * 64, None, {"metrics": metrics})
            )
            registry.db.set_pointer(connection, role, version)
    log = PredictionLog(registry.db)
    rng = np.random.default_rng(0)
    dates = np.busday_offset("2025-01-02", np.arange(days), roll="forward").astype(str)
    names = [f"T{i:04d}" for i in range(tickers)]
    for day in dates:
        up = rng.random(tickers) < 0.53
        rows = []
        for version, role in ((PRODUCTION, "production"), (SHADOW, "shadow")):
            probability = np.clip(0.5 + 0.1 * (up - 0.5) + rng.normal(0, 0.1, tickers), 0, 1)
            rows += [
                LoggedPrediction(version, name, str(day), role, 5, float(p), "scheduled")
                for name, p in zip(names, probability, strict=True)
            ]
        log.log(rows, at=f"{day}T22:30:00+00:00")
        log.set_outcomes([(n, str(day), 5, int(u)) for n, u in zip(names, up, strict=True)])
    service.monitor.log.put_snapshot("now", service.monitor.realised_report())
    return service, log, names, dates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=250)
    args = parser.parse_args()

    from trading_engine.monitoring.report import monitoring_payload
    from trading_engine.store.predictions import LoggedPrediction

    with tempfile.TemporaryDirectory() as folder:
        service, log, names, dates = fill(Path(folder) / "models", args.tickers, args.days)
        counts = log.counts()
        next_days = iter(range(1000))

        def log_one_day() -> int:
            day = f"2027-01-{next(next_days) % 28 + 1:02d}"  # a new as-of each time: real writes
            return log.log(
                [
                    LoggedPrediction(PRODUCTION, name, day, "production", 5, 0.5, "scheduled")
                    for name in names
                ],
                at="now",
            )

        def outcomes_one_day() -> int:
            day = str(dates[-1])
            with service.registry.db.transaction() as connection:
                connection.execute("UPDATE predictions SET up = NULL WHERE as_of = ?", (day,))
            return log.set_outcomes([(name, day, 5, 1) for name in names])

        log_seconds, added = timed(log_one_day, repeat=7)
        outcome_seconds, _ = timed(outcomes_one_day, repeat=5)
        answer_seconds, _ = timed(lambda: monitoring_payload(service), repeat=7)
        version_seconds, _ = timed(lambda: service.monitor.version_report(PRODUCTION), repeat=5)
        full_seconds, report = timed(lambda: service.monitor.realised_report(), repeat=5)
    figures = {
        "tickers": args.tickers,
        "days": args.days,
        "rows": counts["live"],
        "rows_per_model": counts["live"] // 2,
        "log_one_day_ms": round(log_seconds * 1000, 2),
        "log_one_day_rows": added,
        "outcomes_one_day_ms": round(outcome_seconds * 1000, 2),
        "monitoring_answer_ms": round(answer_seconds * 1000, 2),
        "version_report_ms": round(version_seconds * 1000, 2),
        "full_recompute_ms": round(full_seconds * 1000, 2),
        "paired_rows": report["comparison"]["rows"],
        "targets": {"log_one_day_ms": 50, "monitoring_query_ms": 100},
    }
    path = save("monitoring", figures)
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
