"""Score a replay: realised metrics of the policy and the baselines on the same rows, the
policy's difference to each with a block-bootstrap interval, rolling figures, deployments,
rejections by gate, model age, which model was live, and recovery after a regime change.

Only rows whose label was known by the end of the data are scored. The bootstrap resamples
blocks of dates and, independently, tickers (as ``training.metrics.block_bootstrap_skill``):
5-day labels overlap and tickers move together, so rows are far from independent.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import Any

import numpy as np

from ..training.metrics import _weighted_auc, block_ticker_weights, pesaran_timmermann, roc_auc
from .replay import BASELINES, ReplayResult

ROLLING_DAYS = 63  # trading dates in the rolling window (a quarter)
RECOVERY_DAYS = 21  # trading dates after a deployment over which recovery is judged


def realised_metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """AUC, accuracy, Brier, the Pesaran-Timmermann p-value and the row count."""
    n = len(y)
    if n == 0:
        return {"roc_auc": None, "accuracy": None, "brier": None, "pt_p_value": None, "rows": 0}
    up = probability > 0.5
    statistic, p_value = pesaran_timmermann(y, up)
    auc = roc_auc(y, probability)
    return {
        "roc_auc": None if np.isnan(auc) else round(float(auc), 4),
        "accuracy": round(float(np.mean(up == (y == 1))), 4),
        "brier": round(float(np.mean((probability - y) ** 2)), 4),
        "pt_p_value": round(float(p_value), 4),
        "pt_statistic": round(float(statistic), 3),
        "rows": int(n),
    }


def paired_difference(
    y: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    dates: np.ndarray,
    tickers: np.ndarray,
    *,
    samples: int = 500,
    block_days: int = 10,
    seed: int = 0,
    chunk: int = 50,
) -> dict[str, Any]:
    """``first`` minus ``second`` in accuracy and AUC on the same rows, with 95 % intervals
    and one-sided p-values (P(difference <= 0)) from a two-way block bootstrap."""
    if len(y) == 0:
        return {}
    _, day = np.unique(dates, return_inverse=True)
    _, ticker = np.unique(tickers, return_inverse=True)
    block_days = max(1, min(block_days, int(day.max()) + 1))
    positive = y == 1
    hit_first = ((first > 0.5) == positive).astype(np.float64)
    hit_second = ((second > 0.5) == positive).astype(np.float64)
    order_first, order_second = np.argsort(first, kind="stable"), np.argsort(second, kind="stable")

    def groups(values: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])

    groups_first, groups_second = groups(first[order_first]), groups(second[order_second])
    rng = np.random.default_rng(seed)
    accuracy, auc = [], []
    for day_weight, ticker_weight in block_ticker_weights(
        rng, day, ticker, samples=samples, block_days=block_days, chunk=chunk
    ):
        weights = day_weight * ticker_weight  # rows x resamples
        total = weights.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy.append((hit_first @ weights - hit_second @ weights) / total)
        auc.append(
            _weighted_auc(weights[order_first], positive[order_first], groups_first)
            - _weighted_auc(weights[order_second], positive[order_second], groups_second)
        )
    result: dict[str, Any] = {}
    observed = {
        "accuracy": float(hit_first.mean() - hit_second.mean()),
        "roc_auc": float(roc_auc(y, first) - roc_auc(y, second)),
    }
    for name, draws in (("accuracy", np.concatenate(accuracy)), ("roc_auc", np.concatenate(auc))):
        finite = draws[np.isfinite(draws)]
        low, high = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
        result[name] = {
            "difference": _round(observed[name]),
            "ci_low": _round(low),
            "ci_high": _round(high),
            "p_value": round(float((np.sum(~(draws > 0)) + 1) / (samples + 1)), 4),
        }
    result["samples"] = samples
    result["block_days"] = block_days
    return result


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def rolling_metrics(result: ReplayResult, window: int = ROLLING_DAYS) -> dict[str, Any]:
    """Accuracy and AUC of each policy over the trailing ``window`` scored trading dates."""
    known = ~np.isnan(result.y)
    dates = result.row_dates[known]
    y = result.y[known]
    unique, day = np.unique(dates, return_inverse=True)
    bounds = np.searchsorted(day, np.arange(len(unique) + 1))  # rows are in date order
    series: dict[str, dict[str, list[float | None]]] = {}
    for name, values in result.probability.items():
        p = values[known]
        hits = ((p > 0.5) == (y == 1)).astype(np.float64)
        cumulative = np.r_[0.0, np.cumsum(hits)]
        accuracy: list[float | None] = []
        auc: list[float | None] = []
        for end in range(len(unique)):
            begin = max(0, end - window + 1)
            lo, hi = bounds[begin], bounds[end + 1]
            if end < window - 1:
                accuracy.append(None)
                auc.append(None)
                continue
            accuracy.append(round(float((cumulative[hi] - cumulative[lo]) / (hi - lo)), 4))
            value = roc_auc(y[lo:hi], p[lo:hi])
            auc.append(None if np.isnan(value) else round(float(value), 4))
        series[name] = {"accuracy": accuracy, "roc_auc": auc}
    return {"window_days": window, "dates": [str(d) for d in unique], "series": series}


def _recovery(result: ReplayResult, change: np.datetime64, until: np.datetime64) -> dict:
    """When the policy recovered after ``change``: the first step on or after it that deployed a
    model whose next ``RECOVERY_DAYS`` trading dates won back 80 % of the edge over chance the
    policy settles at in this regime (its accuracy over the regime's second half, up to
    ``until``)."""
    known = ~np.isnan(result.y)
    dates, y, p = result.row_dates[known], result.y[known], result.probability["policy"][known]
    hits = (p > 0.5) == (y == 1)
    unique = np.unique(dates)
    regime = unique[(unique >= change) & (unique < until)]
    if len(regime) < 2 * RECOVERY_DAYS:
        return {"recovered": False, "why": "too few scored dates in the regime"}
    settled = float(hits[np.isin(dates, regime[len(regime) // 2 :])].mean())
    if settled <= 0.5:
        return {"recovered": False, "settled_accuracy": round(settled, 4)}
    target = 0.5 + 0.8 * (settled - 0.5)
    for log in result.steps:
        step_date = np.datetime64(log.date)
        if step_date < change or log.outcome != "deployed":
            continue
        after_dates = regime[regime >= step_date][:RECOVERY_DAYS]
        if len(after_dates) < RECOVERY_DAYS:
            break
        accuracy = float(hits[np.isin(dates, after_dates)].mean())
        if accuracy >= target:
            return {
                "recovered": True,
                "recovery_step": log.step,
                "recovery_date": log.date,
                "business_days_to_recover": int(np.busday_count(change, step_date)),
                "settled_accuracy": round(settled, 4),
                "accuracy_after": round(accuracy, 4),
            }
    return {"recovered": False, "settled_accuracy": round(settled, 4)}


def summarise(result: ReplayResult, *, bootstrap_samples: int = 500) -> dict[str, Any]:
    """The replay's summary: the shape ``replay --json`` prints."""
    known = ~np.isnan(result.y)
    y = result.y[known]
    dates, tickers = result.row_dates[known], result.row_tickers[known]
    policy = result.probability["policy"][known]
    seed = result.settings.retraining.seed
    block_days = result.settings.retraining.block_days

    def windowed(values: np.ndarray) -> dict[str, Any]:
        last = np.unique(dates)[-ROLLING_DAYS:]
        inside = np.isin(dates, last)
        return realised_metrics(y[inside], values[inside])

    baselines: dict[str, Any] = {}
    for name in BASELINES:
        values = result.probability[name][known]
        baselines[name] = {
            "metrics": realised_metrics(y, values),
            "rolling_last": windowed(values),
            "policy_minus_baseline": paired_difference(
                y,
                policy,
                values,
                dates,
                tickers,
                samples=bootstrap_samples,
                block_days=block_days,
                seed=seed,
            ),
        }
    outcomes = Counter(log.outcome for log in result.steps)
    by_gate = Counter(
        gate for log in result.steps if log.outcome == "rejected" for gate in log.failed_gates
    )
    live: list[dict[str, Any]] = []
    for log in result.steps:
        if log.production and (not live or live[-1]["version"] != log.production):
            live.append({"version": log.production, "from": log.date})
    for current, following in pairwise(live):
        current["to"] = following["from"]
    if live:
        live[-1]["to"] = str(result.row_dates[-1]) if len(result.row_dates) else None
    ages = result.model_age[result.model_age >= 0]
    changes = []
    for change in result.regime_changes:
        if len(dates) == 0 or change <= dates[0] or change > dates[-1]:
            continue
        later = [c for c in result.regime_changes if c > change]
        until = later[0] if later else dates[-1] + np.timedelta64(1, "D")
        inside = (dates >= change) & (dates < until)
        changes.append(
            {
                "date": str(change),
                **_recovery(result, change, until),
                "rows": int(inside.sum()),
                "policy": realised_metrics(y[inside], policy[inside]),
                "never_retrain": realised_metrics(
                    y[inside], result.probability["never_retrain"][known][inside]
                ),
                "policy_minus_never_retrain": paired_difference(
                    y[inside],
                    policy[inside],
                    result.probability["never_retrain"][known][inside],
                    dates[inside],
                    tickers[inside],
                    samples=bootstrap_samples,
                    block_days=block_days,
                    seed=seed,
                ),
            }
        )
    return {
        "steps": len(result.steps),
        "start": str(result.dates[0]),
        "end": str(result.dates[-1]),
        "every": result.every,
        "full_every": result.full_every,
        "workers": result.workers,
        "scored_from": str(dates[0]) if len(dates) else None,
        "scored_to": str(dates[-1]) if len(dates) else None,
        "tickers": len(np.unique(tickers)),
        "policy": {
            "metrics": realised_metrics(y, policy),
            "rolling_last": windowed(policy),
            "deployments": outcomes.get("deployed", 0),
            "rejections": outcomes.get("rejected", 0),
            "failures": outcomes.get("failed", 0),
            "rejections_by_gate": dict(by_gate.most_common()),
            "model_age_days": {
                "mean": round(float(ages.mean()), 1) if len(ages) else None,
                "max": int(ages.max()) if len(ages) else None,
            },
            "live_models": live,
        },
        "baselines": baselines,
        "regime_changes": changes,
        "rolling_window_days": ROLLING_DAYS,
        "seconds": round(result.seconds, 2),
    }
