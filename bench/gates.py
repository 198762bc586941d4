"""Calibration of the skill gates: how often pure noise passes them.

Each market is pure noise: every ticker's future returns are independent of its past, so no
feature can predict the 5-day direction and any pass is a false pass. Five kinds of noise:

* ``gaussian``: random walks, drift 0.03 %/day, 1.5 % daily volatility;
* ``student_t``: the same with Student t (df 3) innovations scaled to 1.5 % (fat tails);
* ``garch``: GARCH(1,1) volatility clustering (alpha 0.08, beta 0.90), zero drift and symmetric
  innovations, so predictable volatility says nothing about direction;
* ``market_factor``: a common market factor (correlation 0.4 between tickers), drift 0.03 %/day;
* ``strong_drift``: drift +-0.2 %/day (sign drawn per market), about 62 % (or 38 %) of 5-day
  labels up: a majority any model learns, and no skill.

Every market goes through the real pipeline (``dataset_from_market`` then
``train_and_evaluate``, default settings, one LightGBM thread), and the bench counts how often
the gates ``skill_pt`` and ``skill_auc`` pass, and both together (the skill gate as deployed),
at the configured p < 0.05, with exact (Clopper-Pearson) 95 % binomial intervals, per kind and
overall. For comparison it also counts p < 0.05 from the asymptotic Pesaran-Timmermann test
(which assumes independent rows) and from the bootstrap accuracy edge over the training
majority; neither is a gate. Target: false pass at most 5 %.

Run: .venv/bin/python bench/gates.py [--markets-per-kind 100 --tickers 20 --days 800 --seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save
from trading_engine.config import load_settings
from trading_engine.data import MarketData, PriceHistory, QualityReport
from trading_engine.features import dataset_from_market
from trading_engine.training import train_and_evaluate

END = np.datetime64("2026-11-24")
VOLATILITY = 0.015
DRIFT = 0.0003


def gaussian(rng: np.random.Generator, days: int, tickers: int) -> np.ndarray:
    return DRIFT + VOLATILITY * rng.standard_normal((days, tickers))


def student_t(rng: np.random.Generator, days: int, tickers: int) -> np.ndarray:
    df = 3  # variance df / (df - 2) = 3
    return DRIFT + VOLATILITY / np.sqrt(df / (df - 2)) * rng.standard_t(df, (days, tickers))


def garch(rng: np.random.Generator, days: int, tickers: int) -> np.ndarray:
    alpha, beta_, burn_in = 0.08, 0.90, 250
    omega = VOLATILITY**2 * (1 - alpha - beta_)  # unconditional variance VOLATILITY^2
    shocks = rng.standard_normal((days + burn_in, tickers))
    variance = np.full(tickers, VOLATILITY**2)
    returns = np.empty_like(shocks)
    for t in range(days + burn_in):
        returns[t] = np.sqrt(variance) * shocks[t]
        variance = omega + alpha * returns[t] ** 2 + beta_ * variance
    return returns[burn_in:]


def market_factor(rng: np.random.Generator, days: int, tickers: int) -> np.ndarray:
    rho = 0.4  # correlation of any two tickers' daily returns
    common = rng.standard_normal((days, 1))
    own = rng.standard_normal((days, tickers))
    return DRIFT + VOLATILITY * (np.sqrt(rho) * common + np.sqrt(1 - rho) * own)


def strong_drift(rng: np.random.Generator, days: int, tickers: int) -> np.ndarray:
    sign = 1 if rng.random() < 0.5 else -1
    return sign * 0.002 + VOLATILITY * rng.standard_normal((days, tickers))


KINDS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "gaussian": gaussian,
    "student_t": student_t,
    "garch": garch,
    "market_factor": market_factor,
    "strong_drift": strong_drift,
}


def noise_market(kind: str, rng: np.random.Generator, days: int, tickers: int) -> MarketData:
    """Prices from ``kind``'s log returns; volume and intraday range are independent noise."""
    returns = KINDS[kind](rng, days, tickers)
    dates = np.busday_offset(END, np.arange(-days + 1, 1), roll="backward")
    histories = {}
    for i in range(tickers):
        close = 50 * np.exp(np.cumsum(returns[:, i]))
        open_ = np.r_[50, close[:-1]] * np.exp(rng.normal(0, 0.003, days))
        spread = np.exp(np.abs(rng.normal(0, 0.005, (2, days))))
        name = f"N{i:02d}"
        histories[name] = PriceHistory(
            name,
            dates,
            open_,
            np.maximum(open_, close) * spread[0],
            np.minimum(open_, close) / spread[1],
            close,
            np.round(500_000 * np.exp(rng.normal(0, 0.3, days))),
        )
    return MarketData(histories, QualityReport())


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for k successes in n trials."""
    tail = (1 - level) / 2
    low = float(beta.ppf(tail, k, n - k + 1)) if k > 0 else 0.0
    high = float(beta.ppf(1 - tail, k + 1, n - k)) if k < n else 1.0
    return low, high


def rates(rows: list[dict[str, Any]], alpha: float) -> dict[str, dict[str, float]]:
    """False-pass count, rate and 95 % interval of each test over ``rows``."""
    tests = {
        "skill_pt": lambda r: r["skill_p_value_pt"] < alpha,
        "skill_auc": lambda r: r["skill_p_value_auc"] < alpha,
        "skill_pt_and_auc": lambda r: (
            r["skill_p_value_pt"] < alpha and r["skill_p_value_auc"] < alpha
        ),
        "pt_asymptotic (not a gate)": lambda r: r["pt_p_value"] < alpha,
        "accuracy_edge (not a gate)": lambda r: r["skill_p_value_accuracy"] < alpha,
    }
    out = {}
    for name, passes in tests.items():
        k, n = sum(bool(passes(row)) for row in rows), len(rows)
        low, high = clopper_pearson(k, n)
        out[name] = {"false_passes": k, "markets": n, "rate": k / n, "ci95": [low, high]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets-per-kind", type=int, default=100)
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--days", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings(retraining={"lightgbm": {"num_threads": 1}}).retraining
    alpha = settings.skill_p_value
    facts = machine()
    n_markets = args.markets_per_kind * len(KINDS)
    print(
        f"gates bench: {n_markets} pure-noise markets ({args.markets_per_kind} per kind: "
        f"{', '.join(KINDS)}), {args.tickers} tickers x {args.days} days each; market seeds "
        f"default_rng([{args.seed}, kind 0-{len(KINDS) - 1}, market 0-{args.markets_per_kind - 1}])"
    )
    print(
        f"  settings: horizon {settings.horizon}, holdout {settings.holdout_days} days, embargo "
        f"{settings.embargo}, bootstrap {settings.bootstrap_samples} resamples of "
        f"{settings.block_days}-day blocks x tickers, p < {alpha}, training seed {settings.seed}, "
        f"1 LightGBM thread; {facts['cores']} cores, {facts['versions']}"
    )
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for k, kind in enumerate(KINDS):
        for i in range(args.markets_per_kind):
            rng = np.random.default_rng([args.seed, k, i])
            market = noise_market(kind, rng, args.days, args.tickers)
            dataset = dataset_from_market(market, horizon=settings.horizon)
            metrics = train_and_evaluate(dataset, None, settings).metrics
            keep = (
                "roc_auc",
                "accuracy",
                "base_rate",
                "train_base_rate",
                "predicted_up",
                "pt_statistic",
                "pt_p_value",
                "skill_p_value_pt",
                "skill_p_value_auc",
                "accuracy_edge",
                "skill_p_value_accuracy",
                "holdout_rows",
            )
            rows.append({"kind": kind, "market": i, **{key: metrics[key] for key in keep}})
        elapsed = time.perf_counter() - start
        print(f"  {kind}: {args.markets_per_kind} markets done ({elapsed:.0f} s so far)")
    elapsed = time.perf_counter() - start
    by_kind = {kind: rates([r for r in rows if r["kind"] == kind], alpha) for kind in KINDS}
    overall = rates(rows, alpha)
    # A constant forecast (always up, always down) fails skill_pt by construction; the rate
    # among markets where the model's forecasts vary is the stricter figure.
    varying = rates([r for r in rows if 0 < r["predicted_up"] < 1], alpha)
    print(f"false passes at p < {alpha}, rate [95 % Clopper-Pearson interval]; target <= 5 %:")
    names = list(overall)
    print(f"  {'kind':14s}{'n':>5s}  " + "".join(f"{name.split(' ')[0]:>26s}" for name in names))
    for kind, figures in [*by_kind.items(), ("overall", overall), ("not constant", varying)]:
        cells = [
            f"{f['false_passes']:>3d} {f['rate']:5.1%} [{f['ci95'][0]:4.1%}, {f['ci95'][1]:4.1%}]"
            for f in figures.values()
        ]
        n = figures[names[0]]["markets"]
        print(f"  {kind:14s}{n:>5d}  " + "".join(f"{cell:>26s}" for cell in cells))
    aucs = np.array([r["roc_auc"] for r in rows])
    print(
        f"  holdout AUC on noise: {aucs.mean():.3f} +/- {aucs.std():.3f}; "
        f"{elapsed:.0f} s in all ({elapsed / len(rows):.1f} s per market)"
    )
    save(
        "gates",
        {
            "markets_per_kind": args.markets_per_kind,
            "tickers": args.tickers,
            "days": args.days,
            "seed": args.seed,
            "p_threshold": alpha,
            "bootstrap_samples": settings.bootstrap_samples,
            "block_days": settings.block_days,
            "seconds": elapsed,
            "false_pass": {"overall": overall, "forecasts_not_constant": varying, **by_kind},
            "markets": rows,
        },
    )


if __name__ == "__main__":
    main()
