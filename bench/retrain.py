"""Retrain end to end: trading-engine vs the usual stack, on the same folder, same holdout.

trading-engine: load folder (pyarrow, threads) + features (TA-Lib) + look-ahead audit + purged
walk-forward CV (5 folds, LightGBM) + final fit + holdout metrics and bootstrap skill test.
Usual stack: pandas.read_csv per file + the `ta` package + scikit-learn
RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1) with 5-fold CV over shuffled
rows (the common, leaky practice) + final fit. Both are scored on the same holdout dates.

Run: .venv/bin/python bench/retrain.py [--tickers 50 --days 1260]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, write_demo_folder
from features import usual_stack
from trading_engine.config import load_settings
from trading_engine.data import load_market
from trading_engine.features import dataset_from_market, feature_window
from trading_engine.training import train_and_evaluate
from trading_engine.training.lookahead import Thresholds, audit_retrain
from trading_engine.training.metrics import classification_metrics

END = "2026-11-24"


def ours(folder: Path) -> tuple[float, dict, float]:
    """Seconds for the whole retrain, its holdout metrics, and seconds of the look-ahead audit."""
    settings = load_settings(data={"provider": "csv", "folder": folder}, market={"period": "max"})
    start = time.perf_counter()
    min_history = feature_window(settings.retraining.features)
    market = load_market(settings, today=np.datetime64(END), min_history=min_history)
    dataset = dataset_from_market(market)
    audit = audit_retrain(market, dataset, Thresholds.from_settings(settings.retraining))
    result = train_and_evaluate(dataset, None, settings.retraining, lookahead=audit)
    return time.perf_counter() - start, result.metrics, audit.seconds


def usual(folder: Path, holdout_start: str) -> tuple[float, dict, float]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import KFold, cross_val_score

    start = time.perf_counter()
    frames = {}
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, parse_dates=["date"], index_col="date")
        frames[path.stem] = frame
    rows = usual_stack(frames).dropna()
    features = [c for c in rows.columns if c not in ("label", "ticker")]
    train = rows[rows.index < holdout_start]
    holdout = rows[rows.index >= holdout_start]
    forest = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0)
    cv = cross_val_score(
        forest,
        train[features],
        train["label"],
        cv=KFold(5, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    forest.fit(train[features], train["label"])
    probability = forest.predict_proba(holdout[features])[:, 1]
    elapsed = time.perf_counter() - start
    return (
        elapsed,
        classification_metrics(holdout["label"].to_numpy(), probability),
        float(cv.mean()),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--days", type=int, default=1260)
    args = parser.parse_args()
    facts = machine()
    print(
        f"retrain bench: {args.tickers} tickers x {args.days} days (demo market as CSV files), "
        f"{facts['cores']} cores, {facts['versions']}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_demo_folder(folder, args.tickers, args.days)
        ours_s, ours_metrics, audit_s = ours(folder)
        usual_s, usual_metrics, usual_cv_auc = usual(folder, ours_metrics["holdout_start"])
    keys = ("roc_auc", "accuracy", "f1_score", "log_loss")
    print(
        f"  trading-engine  {ours_s:7.2f} s  holdout "
        + "  ".join(f"{k} {ours_metrics[k]:.3f}" for k in keys)
    )
    print(f"    of which the look-ahead audit {audit_s:5.2f} s ({audit_s / ours_s:.0%})")
    usual_line = "  ".join(f"{k} {usual_metrics[k]:.3f}" for k in keys)
    print(
        f"  pandas+ta+RF    {usual_s:7.2f} s  holdout {usual_line}"
        f"  (its shuffled 5-fold CV claimed AUC {usual_cv_auc:.3f})"
    )
    ratio = usual_s / ours_s
    print(
        f"  speed-up: {ratio:.1f}x (target >= 20x); holdout AUC difference "
        f"{ours_metrics['roc_auc'] - usual_metrics['roc_auc']:+.3f} (target >= 0)"
    )
    save(
        "retrain",
        {
            "tickers": args.tickers,
            "days": args.days,
            "ours_seconds": ours_s,
            "ours_lookahead_seconds": audit_s,
            "usual_seconds": usual_s,
            "speedup": ratio,
            "ours_holdout": ours_metrics,
            "usual_holdout": usual_metrics,
            "usual_shuffled_cv_auc": usual_cv_auc,
        },
    )


if __name__ == "__main__":
    main()
