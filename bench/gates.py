"""The gates on noise and on planted signals, through the real retrain.

Three measurements, each printed with its n, seeds and targets:

1. **Per retrain, pure noise** (``--noise-per-kind`` markets of each of five kinds, below): how
   often the skill gates pass at p < 0.05 under each skill test (``pigeonhole``: the
   product-weight bootstrap of the ``seed`` profile; ``two_way``: clustered standard errors, the
   ``market`` profile's), and how often each profile would deploy a first candidate (the
   repeated-testing level k = 1, p < 0.0304, and the look-ahead audit). Target <= 5 %.
2. **Per market-year of daily retrains, pure noise** (``--year-per-kind`` markets of each
   kind): the ``market`` profile retrained every business day for ``--year-days`` days on a
   growing market, each candidate judged with the skill level spent over the candidates since
   production last changed (``training/repeated.py``), history kept as the store keeps it.
   Every day is retrained (no subsampling). The dataset is built once on the whole market and
   cut at each day (rows up to that day, labels known by it): features are point in time
   (``tests/features/test_point_in_time.py``), so this equals rebuilding it from the market
   cut at that day. Counted: market-years with any deploy (target: none in >= 95 %), and, from
   the same chains, how many would have deployed with every candidate at p < 0.05; the
   correlation of consecutive days' p-values. The look-ahead audit is left out here: it can
   only block a deploy, so the figure is an upper bound.
3. **Power** on planted-signal markets (``tests/markets.planted_signal_histories``: momentum
   whose strength is set so the oracle forecast's AUC is 0.53, 0.56, 0.60, 0.70 or 0.80,
   calibrated by simulation): how often each profile deploys a first candidate, with the
   look-ahead audit. Target for ``market``: >= 80 % at oracle AUC 0.60.

Noise kinds:

* ``gaussian``: random walks, drift 0.03 %/day, 1.5 % daily volatility;
* ``student_t``: the same with Student t (df 3) innovations scaled to 1.5 % (fat tails);
* ``garch``: GARCH(1,1) volatility clustering (alpha 0.08, beta 0.90), zero drift and symmetric
  innovations, so predictable volatility says nothing about direction;
* ``market_factor``: a common market factor (correlation 0.4 between tickers), drift 0.03 %/day;
* ``strong_drift``: drift +-0.2 %/day (sign drawn per market), about 62 % (or 38 %) of 5-day
  labels up: a majority any model learns, and no skill.

Run: .venv/bin/python bench/gates.py [--noise-per-kind 20 --year-per-kind 6 --power-markets 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta, spearmanr

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.markets import histories_from_returns, momentum_returns, planted_signal_histories

from common import machine, save
from trading_engine.config import RetrainingSettings, load_settings
from trading_engine.data import MarketData, QualityReport
from trading_engine.features import Dataset, dataset_from_market
from trading_engine.training import train_and_evaluate
from trading_engine.training.gates import GateReport
from trading_engine.training.lookahead import Thresholds, audit_retrain
from trading_engine.training.metrics import roc_auc
from trading_engine.training.repeated import (
    CandidateHistory,
    PriorCandidate,
    repeated_testing,
    spending,
)
from trading_engine.training.trainer import TrainingResult, judge, splitter_from

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
    return MarketData(histories_from_returns(returns, dates, rng, prefix="N"), QualityReport())


TARGET_AUCS = (0.53, 0.56, 0.60, 0.70, 0.80)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for k successes in n trials."""
    tail = (1 - level) / 2
    low = float(beta.ppf(tail, k, n - k + 1)) if k > 0 else 0.0
    high = float(beta.ppf(1 - tail, k + 1, n - k)) if k < n else 1.0
    return low, high


def rate(k: int, n: int) -> dict[str, Any]:
    low, high = clopper_pearson(k, n) if n else (0.0, 1.0)
    return {"count": k, "n": n, "rate": k / n if n else float("nan"), "ci95": [low, high]}


def cell(figure: dict[str, Any]) -> str:
    low, high = figure["ci95"]
    count, n = figure["count"], figure["n"]
    return f"{count:>3d}/{n:<3d} {figure['rate']:6.1%} [{low:5.1%}, {high:5.1%}]"


def settings_for(profile: str) -> RetrainingSettings:
    return load_settings(
        retraining={"gate_profile": profile, "lightgbm": {"num_threads": 1}}
    ).retraining


def rejudge(result: TrainingResult, dataset: Dataset, settings: RetrainingSettings) -> GateReport:
    """The same candidate (same training) judged under other gate settings, as the trainer does."""
    labeled = dataset.labeled()
    _, rows = splitter_from(settings).holdout_split(labeled.dates, labeled.label_end)
    mask = np.zeros(len(labeled), dtype=bool)
    mask[rows] = True
    holdout = labeled.take(mask)
    probability = result.model.predict_proba(holdout.X)
    level = repeated_testing(
        CandidateHistory(),
        result.metrics["holdout_start"],
        alpha=settings.skill_p_value,
        holdout_days=settings.holdout_days,
    )
    gates, _ = judge(
        holdout,
        probability,
        settings,
        train_base_rate=result.metrics["train_base_rate"],
        lookahead=result.lookahead,
        level=level,
    )
    return gates


def first_candidate(
    market: MarketData, market_settings: RetrainingSettings, seed_settings: RetrainingSettings
) -> tuple[Dataset, TrainingResult, GateReport]:
    """A first candidate (no production, no earlier candidate) through audit, training and
    gates of the ``market`` profile, and the same candidate judged by the ``seed`` profile."""
    dataset = dataset_from_market(market, horizon=market_settings.horizon)
    audit = audit_retrain(market, dataset, Thresholds.from_settings(market_settings))
    result = train_and_evaluate(dataset, None, market_settings, lookahead=audit)
    return dataset, result, rejudge(result, dataset, seed_settings)


def skill_p(gates: GateReport) -> tuple[float, float]:
    values = {gate.name: gate.value for gate in gates.gates}
    return values["skill_pt"], values["skill_auc"]


# -- 1. per retrain, noise ----------------------------------------------------------------------


def noise_per_retrain(args: argparse.Namespace) -> dict[str, Any]:
    market_settings, seed_settings = settings_for("market"), settings_for("seed")
    alpha = market_settings.skill_p_value
    print(
        f"\n1. per retrain, pure noise: {args.noise_per_kind} markets per kind x {len(KINDS)} "
        f"kinds = {args.noise_per_kind * len(KINDS)}, {args.tickers} tickers x {args.days} days; "
        f"seeds default_rng([{args.seed}, kind 0-4, market 0-{args.noise_per_kind - 1}])"
    )
    rows = []
    start = time.perf_counter()
    for k, kind in enumerate(KINDS):
        for i in range(args.noise_per_kind):
            market = noise_market(
                kind, np.random.default_rng([args.seed, k, i]), args.days, args.tickers
            )
            _, result, seed_gates = first_candidate(market, market_settings, seed_settings)
            two_way, pigeonhole = skill_p(result.gates), skill_p(seed_gates)
            rows.append(
                {
                    "kind": kind,
                    "market": i,
                    "roc_auc": result.metrics["roc_auc"],
                    "predicted_up": result.metrics["predicted_up"],
                    "p_pt_two_way": two_way[0],
                    "p_auc_two_way": two_way[1],
                    "p_pt_pigeonhole": pigeonhole[0],
                    "p_auc_pigeonhole": pigeonhole[1],
                    "lookahead_passed": result.lookahead.passed if result.lookahead else None,
                    "deploy_market": result.gates.passed,
                    "deploy_seed": seed_gates.passed,
                }
            )
        print(f"   {kind}: done ({time.perf_counter() - start:.0f} s so far)")
    tests = {
        "skill pigeonhole p<0.05": lambda r: (
            max(r["p_pt_pigeonhole"], r["p_auc_pigeonhole"]) < alpha
        ),
        "skill two_way p<0.05": lambda r: max(r["p_pt_two_way"], r["p_auc_two_way"]) < alpha,
        "deploy: market profile": lambda r: r["deploy_market"],
        "deploy: seed profile": lambda r: r["deploy_seed"],
    }
    table: dict[str, dict[str, Any]] = {}
    for group in [*KINDS, "all"]:
        chosen = [r for r in rows if group in ("all", r["kind"])]
        table[group] = {
            name: rate(sum(bool(t(r)) for r in chosen), len(chosen)) for name, t in tests.items()
        }
    print("   false passes per retrain (count/n rate [95 % interval]); target <= 5 %:")
    print("   " + f"{'kind':14s}" + "".join(f"{name:>34s}" for name in tests))
    for group, figures in table.items():
        print("   " + f"{group:14s}" + "".join(f"{cell(f):>34s}" for f in figures.values()))
    constant = sum(not 0 < r["predicted_up"] < 1 for r in rows)
    aucs = np.array([r["roc_auc"] for r in rows])
    print(
        f"   holdout AUC {np.nanmean(aucs):.3f} +/- {np.nanstd(aucs):.3f}; constant forecast in "
        f"{constant} of {len(rows)} markets; the deploy rows use the first candidate's level "
        f"p < {spending(alpha, 1):.4f} and the look-ahead audit"
    )
    return {"table": table, "markets": rows, "seconds": time.perf_counter() - start}


# -- 2. per market-year of daily retrains, noise ------------------------------------------------


def as_of(dataset: Dataset, day: np.datetime64) -> Dataset:
    """The dataset a retrain on ``day`` would build: rows up to it, labels known by it."""
    cut = dataset.take(dataset.dates <= day)
    return replace(cut, y=np.where(cut.label_end <= day, cut.y, np.nan))


def market_year(market: MarketData, settings: RetrainingSettings, year_days: int) -> dict:
    dataset = dataset_from_market(market, horizon=settings.horizon)
    days = np.unique(dataset.dates)[-year_days:]
    prior: list[PriorCandidate] = []
    production = None
    chain = []
    for day in days:
        result = train_and_evaluate(
            as_of(dataset, day), production, settings, history=CandidateHistory(tuple(prior))
        )
        p_pt, p_auc = skill_p(result.gates)
        level = result.gates.repeated_testing
        assert level is not None
        chain.append((str(day), p_pt, p_auc, level.window, level.effective_alpha))
        if result.gates.deploy:
            break  # a false deploy: this market-year counts, whatever follows
        prior.append(PriorCandidate(str(day), result.metrics["holdout_start"]))
    alpha = settings.skill_p_value
    return {
        "retrains": len(chain),
        "deployed": bool(chain) and max(chain[-1][1], chain[-1][2]) < chain[-1][4],
        "deploy_day": chain[-1][0] if max(chain[-1][1], chain[-1][2]) < chain[-1][4] else None,
        "uncorrected_passes": sum(max(c[1], c[2]) < alpha for c in chain),
        "windows": chain[-1][3],
        "chain": chain,
    }


def noise_years(args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_for("market")
    total_days = args.year_start_days + args.year_days
    print(
        f"\n2. per market-year of daily retrains, pure noise, market profile: "
        f"{args.year_per_kind} markets per kind x {len(KINDS)} = "
        f"{args.year_per_kind * len(KINDS)}, "
        f"{args.year_tickers} tickers, {args.year_days} daily retrains on a market growing from "
        f"{args.year_start_days} to {total_days} days; seeds "
        f"default_rng([{args.seed}, 100 + kind 0-4, market 0-{args.year_per_kind - 1}])"
    )
    years = []
    start = time.perf_counter()
    for k, kind in enumerate(KINDS):
        for i in range(args.year_per_kind):
            rng = np.random.default_rng([args.seed, 100 + k, i])
            market = noise_market(kind, rng, total_days, args.year_tickers)
            years.append(
                {"kind": kind, "market": i, **market_year(market, settings, args.year_days)}
            )
        print(f"   {kind}: done ({time.perf_counter() - start:.0f} s so far)")
    deployed = rate(sum(y["deployed"] for y in years), len(years))
    uncorrected = rate(sum(y["uncorrected_passes"] > 0 for y in years), len(years))
    retrains = sum(y["retrains"] for y in years)
    pairs = [(a[2], b[2]) for y in years for a, b in zip(y["chain"], y["chain"][1:], strict=False)]
    consecutive = float(spearmanr(*zip(*pairs, strict=True)).statistic) if pairs else float("nan")
    lag63 = [(a[2], b[2]) for y in years for a, b in zip(y["chain"], y["chain"][63:], strict=False)]
    apart = float(spearmanr(*zip(*lag63, strict=True)).statistic) if lag63 else float("nan")
    print(f"   {retrains} retrains in all ({time.perf_counter() - start:.0f} s)")
    print(f"   market-years with a false deploy (target: none in >= 95 %): {cell(deployed)}")
    print(
        "   the same chains with every candidate at p < 0.05 (no correction): "
        f"{cell(uncorrected)} would have deployed"
    )
    print(
        f"   Spearman correlation of skill_auc p-values: consecutive days {consecutive:.2f}, "
        f"63 business days apart {apart:.2f}"
    )
    return {
        "deployed": deployed,
        "uncorrected": uncorrected,
        "retrains": retrains,
        "p_value_correlation_consecutive": consecutive,
        "p_value_correlation_63_days": apart,
        "years": [{key: y[key] for key in y if key != "chain"} for y in years],
        "seconds": time.perf_counter() - start,
    }


# -- 3. power on planted signals ----------------------------------------------------------------


def oracle_auc(strength: float, days: int = 400_000, horizon: int = 5) -> float:
    """AUC of the oracle's forecast for the label on one long simulated series."""
    shocks = np.random.default_rng(12345).standard_normal((days, 1))
    returns, oracle = momentum_returns(shocks, strength, horizon)
    price = np.cumsum(returns[:, 0])
    label = (price[horizon:] > price[:-horizon]).astype(np.float64)
    return roc_auc(label[100:], oracle[100:-horizon, 0])


def strength_for(target: float) -> float:
    """Momentum strength whose oracle AUC is ``target`` (bisection; AUC rises with strength)."""
    low, high = 0.0, 6.0
    for _ in range(22):
        middle = (low + high) / 2
        low, high = (middle, high) if oracle_auc(middle) < target else (low, middle)
    return (low + high) / 2


def holdout_oracle_auc(
    dataset: Dataset, result: TrainingResult, histories: dict, oracle: dict[str, np.ndarray]
) -> float:
    labeled = dataset.labeled()
    rows = labeled.dates >= np.datetime64(result.metrics["holdout_start"])
    tickers = labeled.tickers[rows]
    dates = labeled.dates[rows]
    score = np.array(
        [
            oracle[t][np.searchsorted(histories[t].dates, d)]
            for t, d in zip(tickers, dates, strict=True)
        ]
    )
    return roc_auc(labeled.y[rows], score)


def power(args: argparse.Namespace) -> dict[str, Any]:
    market_settings, seed_settings = settings_for("market"), settings_for("seed")
    print(
        f"\n3. power on planted-signal markets: {args.power_markets} markets per level, "
        f"{args.tickers} tickers x {args.days} days; market seed 10000 x level + market "
        f"(+ {args.seed}); a first candidate (level p < {spending(0.05, 1):.4f}), look-ahead on"
    )
    levels = []
    start = time.perf_counter()
    for level, target in enumerate(TARGET_AUCS):
        strength = strength_for(target)
        rows = []
        for m in range(args.power_markets):
            histories, oracle = planted_signal_histories(
                strength, args.tickers, args.days, seed=10_000 * level + m + args.seed
            )
            market = MarketData(histories, QualityReport())
            dataset, result, seed_gates = first_candidate(market, market_settings, seed_settings)
            rows.append(
                {
                    "market": m,
                    "oracle_auc": holdout_oracle_auc(dataset, result, histories, oracle),
                    "roc_auc": result.metrics["roc_auc"],
                    "deploy_market": result.gates.passed,
                    "deploy_seed": seed_gates.passed,
                    "lookahead_passed": result.lookahead.passed if result.lookahead else None,
                    "failed_market": [g.name for g in result.gates.failed],
                    "failed_seed": [g.name for g in seed_gates.failed],
                }
            )
        n = len(rows)
        levels.append(
            {
                "target_oracle_auc": target,
                "strength": strength,
                "oracle_auc_holdout": float(np.mean([r["oracle_auc"] for r in rows])),
                "model_auc_holdout": float(np.mean([r["roc_auc"] for r in rows])),
                "market": rate(sum(r["deploy_market"] for r in rows), n),
                "seed": rate(sum(r["deploy_seed"] for r in rows), n),
                "lookahead_failed": sum(r["lookahead_passed"] is False for r in rows),
                "markets": rows,
            }
        )
        print(f"   oracle AUC {target}: done ({time.perf_counter() - start:.0f} s so far)")
    print("   deploys (count/n rate [95 % interval]); target for market at oracle 0.60: >= 80 %")
    print(
        f"   {'oracle AUC':>10s} {'strength':>8s} {'oracle':>7s} {'model':>7s}"
        f"{'market profile':>34s}{'seed profile':>34s} {'look-ahead fired':>16s}"
    )
    for row in levels:
        print(
            f"   {row['target_oracle_auc']:>10.2f} {row['strength']:>8.3f} "
            f"{row['oracle_auc_holdout']:>7.3f} {row['model_auc_holdout']:>7.3f}"
            f"{cell(row['market']):>34s}{cell(row['seed']):>34s} {row['lookahead_failed']:>16d}"
        )
    return {"levels": levels, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noise-per-kind", type=int, default=20)
    parser.add_argument("--year-per-kind", type=int, default=6)
    parser.add_argument("--power-markets", type=int, default=20)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--year-tickers", type=int, default=20)
    parser.add_argument("--year-start-days", type=int, default=550)
    parser.add_argument("--year-days", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sections", default="noise,year,power")
    args = parser.parse_args()
    settings = settings_for("market")
    facts = machine()
    print(
        f"gates bench: horizon {settings.horizon}, holdout {settings.holdout_days} days, "
        f"bootstrap {settings.bootstrap_samples} resamples of {settings.block_days}-day blocks "
        f"and tickers, p < {settings.skill_p_value} spent as alpha * 6 / (pi^2 k^2), training "
        f"seed {settings.seed}, 1 LightGBM thread; {facts['cores']} cores"
    )
    sections = args.sections.split(",")
    out: dict[str, Any] = {"args": vars(args)}
    if "noise" in sections:
        out["noise_per_retrain"] = noise_per_retrain(args)
    if "power" in sections:
        out["power"] = power(args)
    if "year" in sections:
        out["noise_market_years"] = noise_years(args)
    path = save("gates" if len(sections) == 3 else "gates_" + "_".join(sections), out)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
