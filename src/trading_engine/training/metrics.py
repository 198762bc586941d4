"""Classification metrics for direction predictions and the tests of directional skill.

``pesaran_timmermann`` is the classic asymptotic test (rows independent); ``block_bootstrap_skill``
is what the gates use: the same statistics with p-values from a bootstrap over blocks of dates
and over tickers, because 5-day labels overlap and tickers move together.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..cores import available_cores

T = TypeVar("T")

EPSILON = np.finfo(np.float64).eps  # as scikit-learn clips probabilities for log loss


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy's rankdata)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(y_true: np.ndarray, probability: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties averaged); NaN with a single class."""
    positives = y_true == 1
    n_pos = int(positives.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(probability, dtype=np.float64))
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _f1(y_true: np.ndarray, predicted: np.ndarray) -> float:
    true_positive = float(np.sum(predicted & (y_true == 1)))
    denominator = float(predicted.sum() + (y_true == 1).sum())
    return 2 * true_positive / denominator if denominator else 0.0


def classification_metrics(
    y_true: np.ndarray, probability: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """The seed's metric keys plus log loss, Brier score, base rate and the majority baseline.

    The baseline is the best constant prediction on these very rows (their majority class), so
    beating it needs skill, not a lucky base rate.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    probability = np.asarray(probability, dtype=np.float64)
    predicted = probability > threshold
    n = len(y_true)
    true_positive = float(np.sum(predicted & (y_true == 1)))
    clipped = np.clip(probability, EPSILON, 1 - EPSILON)
    base_rate = float(y_true.mean()) if n else float("nan")
    majority_up = base_rate >= 0.5
    majority_prediction = np.full(n, majority_up)
    return {
        "f1_score": _f1(y_true, predicted),
        "accuracy": float(np.mean(predicted == (y_true == 1))) if n else float("nan"),
        "precision": float(true_positive / predicted.sum()) if predicted.sum() else 0.0,
        "recall": float(true_positive / (y_true == 1).sum()) if (y_true == 1).sum() else 0.0,
        "roc_auc": roc_auc(y_true, probability),
        "log_loss": float(-np.mean(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))),
        "brier": float(np.mean((probability - y_true) ** 2)),
        "base_rate": base_rate,
        "baseline_accuracy": max(base_rate, 1 - base_rate),
        "baseline_f1": _f1(y_true, majority_prediction),
        "rows": n,
    }


def pesaran_timmermann(y_true: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Pesaran-Timmermann (1992) test of directional accuracy: (statistic, one-sided p-value).

    With outcomes y and forecasts x (1 or True = up), P is the hit rate and
    P* = Py * Px + (1 - Py) * (1 - Px) the hit rate expected if forecasts were independent of
    outcomes with the same shares of ups. S = (P - P*) / sqrt(var(P) - var(P*)) is standard
    normal under independence when rows are independent; the p-value is P(Z >= S). Overlapping
    labels and co-moving tickers break that assumption (see ``block_bootstrap_skill``).

    A constant forecast (or constant outcomes) hits exactly P* and carries no information about
    direction: the statistic is then 0 and the p-value 1, as the bootstrap would also say.
    """
    y = np.asarray(y_true, dtype=np.float64) == 1
    x = np.asarray(predicted) == 1
    n = len(y)
    if n == 0:
        return 0.0, 1.0
    p_y, p_x = float(y.mean()), float(x.mean())
    hit = float(np.mean(x == y))
    chance = p_y * p_x + (1 - p_y) * (1 - p_x)
    var_hit = chance * (1 - chance) / n
    var_chance = (
        (2 * p_y - 1) ** 2 * p_x * (1 - p_x) / n
        + (2 * p_x - 1) ** 2 * p_y * (1 - p_y) / n
        + 4 * p_y * p_x * (1 - p_y) * (1 - p_x) / n**2
    )
    variance = var_hit - var_chance
    if p_x * (1 - p_x) == 0 or p_y * (1 - p_y) == 0 or variance <= 0:
        return 0.0, 1.0
    statistic = (hit - chance) / math.sqrt(variance)
    return statistic, 0.5 * math.erfc(statistic / math.sqrt(2))


@dataclass(frozen=True)
class SkillTest:
    """Directional skill of predictions on a holdout, with one-sided bootstrap p-values.

    The gates use ``p_value_pt`` and ``p_value_auc``. The asymptotic Pesaran-Timmermann figures
    and the accuracy edge over the training majority are reported, not gated.
    """

    pt_excess: float  # P - P*: hit rate above that of independent guesses, up as often
    chance_accuracy: float  # P*, the hit rate such guesses would expect
    pt_statistic: float  # classic asymptotic PT statistic (assumes independent rows)
    pt_p_value: float  # its one-sided normal p-value
    p_value_pt: float  # bootstrap P(P - P* <= 0): the gate's p-value
    p_value_auc: float  # bootstrap P(AUC <= 0.5)
    accuracy_edge: float | None  # accuracy - accuracy of always the training majority
    p_value_accuracy: float | None  # bootstrap P(edge <= 0); None without a training base rate
    training_majority_up: bool | None  # the constant known at training time
    samples: int
    block_days: int


def _weighted_auc(
    weights: np.ndarray,
    positive: np.ndarray,
    groups: np.ndarray,
    positives: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
) -> np.ndarray:
    """AUC for each column of ``weights`` (rows x resamples), rows sorted by score.

    ``groups`` are the start offsets of runs of equal scores, so ties count one half.
    ``positives`` and ``negatives``: each column's total positive and negative weight, when the
    caller has them already. Rows first because the running sum over rows then adds whole
    contiguous lines of resamples. Weights are whole numbers, so every sum and product is
    exact in float64: any order gives the same AUC.
    """
    if positives is None or negatives is None:
        positives = np.einsum("r,rs->s", positive.astype(np.float64), weights)
        negatives = weights.sum(0) - positives
    if len(groups) == len(positive):
        # No ties: a row is positive or negative, never both, so the negatives below a
        # positive row are all the negatives up to it.
        below = weights * ~positive[:, None]
        np.cumsum(below, axis=0, out=below)
        below *= weights
        wins = np.einsum("r,rs->s", positive.astype(np.float64), below)
    else:  # rows of equal score pooled (a few trees give many ties): a tie counts one half
        positive_weight = np.add.reduceat(weights * positive[:, None], groups, axis=0)
        negative_weight = np.add.reduceat(weights, groups, axis=0) - positive_weight
        below = np.cumsum(negative_weight, axis=0) - negative_weight
        below += 0.5 * negative_weight
        wins = np.einsum("gs,gs->s", positive_weight, below)
    pairs = positives * negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def _skill_by_rows(
    weights: np.ndarray, row_stats: np.ndarray, positive: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PT excess P - P*, accuracy edge and AUC of each resample; ``weights`` are laid out rows
    first (rows x resamples), rows sorted by score, and ``row_stats`` holds each row's
    [1, predicted up, up, both up, correct, baseline correct] (``_row_stats``). One product
    gives every weighted count; whole-number weights keep them exact, so a constant forecast
    gives an excess of exactly 0, never +1e-17.
    """
    total, w_up, w_y, w_both, w_correct, w_baseline = _weighted_counts(row_stats, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        # P - P* = 2 (share both up - share predicted up * share up): twice the covariance.
        excess = 2 * (w_both * total - w_up * w_y) / total**2
        edge = (w_correct - w_baseline) / total
    return excess, edge, _weighted_auc(weights, positive, groups, w_y, total - w_y)


def _weighted_counts(row_stats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``row_stats.T @ weights`` in numpy's own loop: a BLAS product here would start its own
    threads inside each of ``map_in_order``'s, and the two pools then fight over the cores
    (measured: 2 resample threads ran slower than 1)."""
    return np.einsum("rk,rs->ks", row_stats, weights)


def _row_stats(
    up: np.ndarray, y_sorted: np.ndarray, correct: np.ndarray, baseline_correct: np.ndarray
) -> np.ndarray:
    return np.column_stack(
        [np.ones(len(up)), up, y_sorted, up & y_sorted, correct, baseline_correct]
    ).astype(np.float64)


def student_t_sf(statistic: float, df: int) -> float:
    """P(T >= statistic) for Student's t with a whole number of degrees of freedom.

    The closed forms of Abramowitz & Stegun 26.7.3-4 (no scipy at run time).
    """
    df = max(1, int(df))
    theta = math.atan(abs(statistic) / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2:  # odd
        total, term = 0.0, 1.0
        if df > 1:
            total = 1.0
            for k in range(1, (df - 3) // 2 + 1):
                term *= cos2 * (2 * k) / (2 * k + 1)
                total += term
            total *= math.sin(theta) * math.cos(theta)
        inside = 2 / math.pi * (theta + total)
    else:
        total, term = 1.0, 1.0
        for k in range(1, (df - 2) // 2 + 1):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        inside = math.sin(theta) * total
    tail = (1 - inside) / 2
    return tail if statistic >= 0 else 1 - tail


def _two_way_p_value(
    observed: float,
    null: float,
    day_only: np.ndarray,
    ticker_only: np.ndarray,
    row_only: np.ndarray,
    df: int,
) -> float:
    """One-sided p-value of ``observed > null`` with the two-way clustered variance.

    V = V(date blocks) + V(tickers) - V(rows) (Cameron, Gelbach & Miller 2011), each from a
    bootstrap that resamples only that dimension; never below either one-way variance. The
    product-weight bootstrap counts the row-level noise three times (Owen 2007), which is why it
    is conservative; this counts it once. Student's t with ``df`` = clusters - 1 of the scarcer
    dimension, since the variance comes from few clusters.
    """
    v_day, v_ticker, v_row = (float(np.nanvar(a)) for a in (day_only, ticker_only, row_only))
    variance = max(v_day + v_ticker - v_row, v_day, v_ticker)
    excess = observed - null
    if not np.isfinite(excess) or variance <= 0 or not np.isfinite(variance):
        return 1.0
    return student_t_sf(excess / math.sqrt(variance), df)


def map_in_order(
    function: Callable[..., T], arguments: Iterable[tuple[Any, ...]], workers: int | None = None
) -> list[T]:
    """``function(*each)`` for each item of ``arguments``, in order, on up to ``workers``
    threads (default: the cores this process may use). The items are produced in this thread,
    one ahead of the workers, so a generator drawing random numbers draws them in the same
    order as a plain loop; numpy releases the GIL in the large array operations that
    ``function`` is for."""
    workers = available_cores() if workers is None else workers
    if workers <= 1:
        return [function(*each) for each in arguments]
    done: list[T] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="resample") as pool:
        pending: deque[Future[T]] = deque()
        for each in arguments:
            pending.append(pool.submit(function, *each))
            if len(pending) > workers:
                done.append(pending.popleft().result())
        done.extend(future.result() for future in pending)
    return done


def block_ticker_draws(
    rng: np.random.Generator,
    n_days: int,
    n_tickers: int,
    *,
    samples: int,
    block_days: int,
    chunk: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``chunk`` resamples at a time: the weight of each date from a moving-block resample of
    dates (blocks of ``block_days``; overlapping labels stay together), shaped (resamples,
    dates), and independently the weight of each ticker from resampling tickers with
    replacement, shaped (resamples, tickers). Whole numbers."""
    block_days = max(1, min(block_days, n_days))
    n_blocks = int(np.ceil(n_days / block_days))
    for size in [chunk] * (samples // chunk) + ([samples % chunk] if samples % chunk else []):
        starts = rng.integers(0, n_days - block_days + 1, size=(size, n_blocks))
        picked = (starts[:, :, None] + np.arange(block_days)).reshape(size, -1)[:, :n_days]
        flat = (picked + n_days * np.arange(size)[:, None]).ravel()
        day_weight = np.bincount(flat, minlength=size * n_days).reshape(size, n_days)
        ticker_weight = rng.multinomial(n_tickers, np.full(n_tickers, 1 / n_tickers), size=size)
        yield day_weight, ticker_weight


def block_ticker_weights(
    rng: np.random.Generator,
    day: np.ndarray,
    ticker: np.ndarray,
    *,
    samples: int,
    block_days: int,
    chunk: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``block_ticker_draws`` as weights of every row: its date's and its ticker's. ``day`` and
    ``ticker`` are each row's 0-based codes; weights are whole numbers (exact in float64),
    laid out rows first: shaped (rows, resamples in the chunk), as ``_weighted_auc`` takes."""
    n_days, n_tickers = int(day.max()) + 1, int(ticker.max()) + 1
    for day_weight, ticker_weight in block_ticker_draws(
        rng, n_days, n_tickers, samples=samples, block_days=block_days, chunk=chunk
    ):
        yield day_weight.T.astype(np.float64)[day], ticker_weight.T.astype(np.float64)[ticker]


def block_bootstrap_skill(
    y_true: np.ndarray,
    probability: np.ndarray,
    dates: np.ndarray,
    tickers: np.ndarray | None = None,
    *,
    train_base_rate: float | None = None,
    samples: int = 1000,
    block_days: int = 10,
    seed: int = 0,
    chunk: int = 100,
    variance: str = "pigeonhole",
) -> SkillTest:
    """Two-way bootstrap: resample blocks of consecutive dates and, independently, tickers.

    Overlapping multi-day labels and market-wide moves tie rows of nearby dates together;
    persistent features tie all rows of one ticker together. Resampling date blocks keeps the
    first, resampling tickers the second; with either alone the p-values come out too small
    (measured on pure random walks: date blocks alone gave a standard error of holdout AUC of
    0.010 where the truth was 0.014). Each resample is a weight per row, so nothing is copied.

    Tested, one-sided, each as P(no edge) over the resamples: the Pesaran-Timmermann excess
    P - P* (forecasts ``probability > 0.5``), and AUC > 0.5. With ``train_base_rate`` (the share
    of up labels in training, known before the holdout), the accuracy edge over always
    predicting the training majority is measured too; the holdout's own majority would be
    hindsight.

    ``variance="two_way"``: instead of counting resamples on the wrong side of "no edge" under
    product weights (conservative: it counts row-level noise three times), the PT excess and
    AUC - 0.5 are divided by their two-way clustered standard error (``_two_way_p_value``),
    estimated from resamples of date blocks only, tickers only and rows only. More power for
    the same false-pass rate; ``bench/gates.py`` measures both on noise.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    probability = np.asarray(probability, dtype=np.float64)
    if tickers is None:
        tickers = np.zeros(len(y_true), dtype=np.int64)
    order = np.argsort(probability, kind="stable")
    y_sorted, p_sorted = y_true[order] == 1, probability[order]
    groups = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    _, day = np.unique(dates[order], return_inverse=True)
    _, ticker = np.unique(np.asarray(tickers)[order], return_inverse=True)
    block_days = max(1, min(block_days, int(day.max()) + 1))

    up = p_sorted > 0.5
    correct = up == y_sorted
    both_up = up & y_sorted
    pt_statistic, pt_p_value = pesaran_timmermann(y_sorted, up)
    n, n_up, n_y, n_both = len(up), int(up.sum()), int(y_sorted.sum()), int(both_up.sum())
    pt_excess = 2 * (n_both * n - n_up * n_y) / n**2 if n else 0.0
    majority_up = None if train_base_rate is None else bool(train_base_rate >= 0.5)
    baseline_correct = y_sorted == bool(majority_up)

    rng = np.random.default_rng(seed)
    if variance == "two_way" and n:
        return _two_way_skill(
            y_sorted,
            up,
            correct,
            baseline_correct,
            groups,
            day,
            ticker,
            rng,
            samples=samples,
            block_days=block_days,
            chunk=chunk,
            majority_up=majority_up,
            pt=(pt_excess, pt_statistic, pt_p_value),
        )

    row_stats = _row_stats(up, y_sorted, correct, baseline_correct)

    def resampled(
        day_weight: np.ndarray, ticker_weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Each row's weight: its date's times its ticker's (gathered here, in the worker), rows
        # first: gathering a row copies one contiguous line of resamples.
        weights = day_weight.T.astype(np.float64)[day]
        weights *= ticker_weight.T.astype(np.float64)[ticker]
        return _skill_by_rows(weights, row_stats, y_sorted, groups)

    draws = block_ticker_draws(
        rng,
        int(day.max()) + 1,
        int(ticker.max()) + 1,
        samples=samples,
        block_days=block_days,
        chunk=chunk,
    )
    excesses, edges, aucs = zip(*map_in_order(resampled, draws), strict=True)
    excess_all, edges_all = np.concatenate(excesses), np.concatenate(edges)
    aucs_all = np.concatenate(aucs)
    # (k + 1) / (B + 1): a p-value from B resamples is never exactly zero. A resample with no
    # rows or one class (NaN) counts against skill.
    p_pt = (np.sum(~(excess_all > 0)) + 1) / (samples + 1)
    p_auc = (np.sum(~(aucs_all > 0.5)) + 1) / (samples + 1)
    p_accuracy = (np.sum(~(edges_all > 0)) + 1) / (samples + 1)
    known = majority_up is not None
    return SkillTest(
        pt_excess=pt_excess,
        chance_accuracy=float(correct.mean()) - pt_excess if n else float("nan"),
        pt_statistic=pt_statistic,
        pt_p_value=pt_p_value,
        p_value_pt=float(p_pt),
        p_value_auc=float(p_auc),
        accuracy_edge=float(correct.mean() - baseline_correct.mean()) if known else None,
        p_value_accuracy=float(p_accuracy) if known else None,
        training_majority_up=majority_up,
        samples=samples,
        block_days=block_days,
    )


def _two_way_skill(
    y_sorted: np.ndarray,
    up: np.ndarray,
    correct: np.ndarray,
    baseline_correct: np.ndarray,
    groups: np.ndarray,
    day: np.ndarray,
    ticker: np.ndarray,
    rng: np.random.Generator,
    *,
    samples: int,
    block_days: int,
    chunk: int,
    majority_up: bool | None,
    pt: tuple[float, float, float],
) -> SkillTest:
    """``block_bootstrap_skill`` with ``variance="two_way"``: clustered standard errors."""
    n = len(y_sorted)
    n_days, n_tickers = int(day.max()) + 1, int(ticker.max()) + 1
    block_days = max(1, min(block_days, n_days))
    n_blocks = int(np.ceil(n_days / block_days))
    pt_excess, pt_statistic, pt_p_value = pt
    # Rows are sorted by score and ties share one: the AUC with unit weights is the observed one.
    auc = float(_weighted_auc(np.ones((n, 1)), y_sorted, groups)[0])

    row_stats = _row_stats(up, y_sorted, correct, baseline_correct)

    def draws() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for day_weight, ticker_weight in block_ticker_draws(
            rng, n_days, n_tickers, samples=samples, block_days=block_days, chunk=chunk
        ):
            yield day_weight, ticker_weight, rng.poisson(1.0, size=(len(day_weight), n))

    def resampled(
        day_weight: np.ndarray, ticker_weight: np.ndarray, row_weight: np.ndarray
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        weights = {  # rows first (``_skill_by_rows``)
            "day": day_weight.T.astype(np.float64)[day],
            "ticker": ticker_weight.T.astype(np.float64)[ticker],
            "row": row_weight.T.astype(np.float64),
        }
        found = {}
        for name, w in weights.items():
            excess, _, auc = _skill_by_rows(w, row_stats, y_sorted, groups)
            found[name] = (excess, auc)
        both = weights["day"] * weights["ticker"]
        total, _, _, _, w_correct, w_baseline = _weighted_counts(row_stats, both)
        with np.errstate(invalid="ignore", divide="ignore"):
            return found, (w_correct - w_baseline) / total

    results = map_in_order(resampled, draws())
    parts = {name: [found[name] for found, _ in results] for name in ("day", "ticker", "row")}
    edges = [edge for _, edge in results]
    df = max(1, min(n_blocks, n_tickers) - 1) if n_tickers > 1 else max(1, n_blocks - 1)
    excess_of = {name: np.concatenate([p[0] for p in got]) for name, got in parts.items()}
    auc_of = {name: np.concatenate([p[1] for p in got]) for name, got in parts.items()}
    constant = not (0 < up.sum() < n)
    p_pt = (
        1.0
        if constant
        else _two_way_p_value(
            pt_excess, 0.0, excess_of["day"], excess_of["ticker"], excess_of["row"], df
        )
    )
    p_auc = _two_way_p_value(auc, 0.5, auc_of["day"], auc_of["ticker"], auc_of["row"], df)
    edges_all = np.concatenate(edges)
    known = majority_up is not None
    return SkillTest(
        pt_excess=pt_excess,
        chance_accuracy=float(correct.mean()) - pt_excess,
        pt_statistic=pt_statistic,
        pt_p_value=pt_p_value,
        p_value_pt=float(p_pt),
        p_value_auc=float(p_auc),
        accuracy_edge=float(correct.mean() - baseline_correct.mean()) if known else None,
        p_value_accuracy=(float((np.sum(~(edges_all > 0)) + 1) / (samples + 1)) if known else None),
        training_majority_up=majority_up,
        samples=samples,
        block_days=block_days,
    )
