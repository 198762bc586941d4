"""The look-ahead audit: does any input know the future better than the past allows?

Every retrain runs it (the gate ``lookahead``) and ``data check`` runs its first part on the raw
columns. Pure functions on in-memory arrays: no files, no clock, no randomness but a seed.

**1. Association beyond the past** (raw columns: open, high, low and volume, each made
scale-free; every feature the model uses). An honest value at date t is a function of what was
known at t, so whatever it knows about the next ``horizon`` days it knows *through the past*
(column <- past -> future: given the past, the column tells nothing more). The test measures
how well a column separates rows whose close then rose from rows whose close fell (the label,
as an AUC) *after removing what past prices explain*: per ticker, the column's rank is
regressed on the ranks of the past 1, h, 2h, 4h and 12h-day log returns and their signs, and
the residual's AUC for the label is pooled over tickers. In an honest market that AUC stays
near 0.5 however predictable the market is (the demo market's strong momentum is explained by
the past returns a feature is made of); a column that carries the close 5 days ahead, or is
raised on the eve of rises, keeps nearly all of its edge. The plain AUCs for the label and for
the *past* h-day move are reported beside it: a leak is better explained by future prices than
by past ones, and an honest column that reacts strongly to the past (volume after a fall) is
not one.

A column leaks when that AUC is at least ``min_auc - 0.5`` from 0.5 (0.60 by default) *and*
``z`` (4) standard errors from it. The standard error is dependence-aware and never below the
worst case (see ``_beyond_past``): with five years of daily data the bar is about 0.65, with
a short history higher, so a few hundred rows never convict a column by chance. Measured with
these settings: no false alarm in 670 honest synthetic markets (demo, random walks, a
fat-tailed GARCH market with a market factor; 1 to 50 tickers, 400 to 1512 days), honest
columns at most 0.55 of the bar; on 12 real index and stock histories (2 indices 1999-2018,
one stock 1986-2017, and 5-year windows of each) at most 0.82 of it, a 200-day average on one
stock's 5 years; the issue's leaks (volume = the close 5 days ahead; volume 1.6x on the eve of
5-day rises) found in every market tried, at 0.66-1.00.

A feature built with a centred window is symmetric in time, as associated with the past as
with the future; removing the past exposes it here too, and check 2 catches it exactly.

**2. Point in time** (features): ``find_lookahead`` recomputes the features on a seeded sample
of tickers cut at a seeded sample of dates and compares them with the full-history values. Any
difference means a feature used later bars.

**3. Plausibility** (the holdout): a holdout AUC above ``max_holdout_auc`` (0.75) is more than
daily direction on real markets supports. It is a warning, not a leak, unless configured to
fail: it cannot say *which* input leaks, and the demo market exceeds it on purpose.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..data.market import MarketData, PriceHistory
from ..features.catalogue import feature_window
from ..features.labels import direction_labels
from ..features.point_in_time import find_lookahead
from .gates import Gate

if TYPE_CHECKING:
    from ..config import RetrainingSettings
    from ..features.dataset import Dataset

GATE_NAME = "lookahead"
MIN_ROWS = 200  # fewer usable rows than this in a column: not enough to judge it
MIN_BLOCKS = 5  # date blocks needed for the batch-means standard error
MAX_BLOCKS = 20
BLOCK_HORIZONS = 10  # a block spans at least this many label horizons

Kind = Literal["input", "feature", "point_in_time", "plausibility"]


def past_windows(horizon: int) -> tuple[int, ...]:
    """The past returns (in bars) an honest column's forward edge must be explained by."""
    return tuple(sorted({1, horizon, 2 * horizon, 4 * horizon, 12 * horizon}))


@dataclass(frozen=True)
class Association:
    """How one column relates to the forward and the past direction, pooled over tickers."""

    name: str
    forward_auc: float  # the column alone, for the label (close rose over the next h bars)
    past_auc: float  # the column alone, for the past h-bar move
    beyond_past_auc: float  # for the label, after removing what past returns explain
    standard_error: float  # of beyond_past_auc, dependence-aware (date blocks)
    rows: int
    tickers: int
    transform: str = ""  # how a raw column was made comparable across tickers and days

    @property
    def edge(self) -> float:
        return abs(self.beyond_past_auc - 0.5)


@dataclass(frozen=True)
class LookaheadFinding:
    """Something the audit found: a leak (fails the gate) or a warning."""

    kind: Kind
    subject: str  # the raw column, the feature, or "holdout"
    statistic: float
    threshold: float
    leak: bool
    why: str

    def message(self) -> str:
        return f"{self.subject}: {self.why}"


@dataclass(frozen=True)
class Thresholds:
    min_auc: float = 0.60
    z: float = 4.0
    max_holdout_auc: float = 0.75
    holdout_auc_fails: bool = False
    point_in_time_tickers: int = 5
    point_in_time_cuts: int = 10
    seed: int = 42

    @classmethod
    def from_settings(cls, settings: RetrainingSettings) -> Thresholds:
        return cls(
            min_auc=settings.lookahead_min_auc,
            z=settings.lookahead_z,
            max_holdout_auc=settings.lookahead_max_holdout_auc,
            holdout_auc_fails=settings.lookahead_holdout_auc_fails,
            point_in_time_tickers=settings.lookahead_pit_tickers,
            point_in_time_cuts=settings.lookahead_pit_cuts,
            seed=settings.seed,
        )


@dataclass(frozen=True)
class LookaheadAudit:
    """The audit of one retrain (or of one ``data check``)."""

    findings: tuple[LookaheadFinding, ...] = ()
    associations: tuple[Association, ...] = ()
    point_in_time_checks: int = 0  # recomputations compared (tickers x cut dates)
    skipped: tuple[str, ...] = ()  # columns with too few rows to judge, and why
    seconds: float = 0.0
    thresholds: Thresholds = field(default_factory=lambda: Thresholds())
    demo_market: bool = False  # the built-in demo market: implausibly strong on purpose

    @property
    def leaks(self) -> list[LookaheadFinding]:
        return [finding for finding in self.findings if finding.leak]

    @property
    def warnings(self) -> list[LookaheadFinding]:
        return [finding for finding in self.findings if not finding.leak]

    @property
    def passed(self) -> bool:
        return not self.leaks

    def gate(self) -> Gate:
        """The ``lookahead`` gate: the number of leaks found, which must be 0."""
        return Gate(GATE_NAME, float(len(self.leaks)), 0.0, self.passed, "leaks <=")

    def judge_holdout(self, holdout_auc: float) -> LookaheadAudit:
        """Check 3: this audit plus a finding when the holdout AUC is implausibly high."""
        finding = plausibility_finding(holdout_auc, self.thresholds, demo=self.demo_market)
        return replace(self, findings=(*self.findings, finding)) if finding else self

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "findings": [asdict(finding) for finding in self.findings],
            "associations": [asdict(association) for association in self.associations],
            "point_in_time_checks": self.point_in_time_checks,
            "skipped": list(self.skipped),
            "seconds": round(self.seconds, 4),
        }


# -- ranks and AUC --------------------------------------------------------------------------------


def _group_ranks(values: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's 0-based rank within its group (ties share their average rank), and the
    size of its group. One sort for all groups."""
    if len(values) and (group != group[0]).any():
        # One sort by group, then value: each group's values shifted past the previous group's.
        low, span = values.min(), np.ptp(values) + 1.0
        order = np.argsort(group * span + (values - low))
    else:
        order = np.argsort(values)  # ties need no stable order: they share one rank below
    ordered_values, ordered_group = values[order], group[order]
    new_group = np.r_[True, ordered_group[1:] != ordered_group[:-1]]
    new_value = new_group | np.r_[True, ordered_values[1:] != ordered_values[:-1]]
    position = np.arange(len(values))
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    tie_start = np.maximum.accumulate(np.where(new_value, position, 0))
    tie_end = np.r_[np.flatnonzero(new_value)[1:], len(values)][np.cumsum(new_value) - 1]
    rank, size = np.empty(len(values)), np.empty(len(values))
    rank[order] = (tie_start + tie_end - 1) / 2.0 - group_start
    size[order] = np.bincount(ordered_group)[ordered_group]
    return rank, size


def group_auc(score: np.ndarray, label: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """AUC of ``score`` for the boolean ``label`` within each group (0.5 where undefined)."""
    return _auc_of_ranks(_group_ranks(score, group)[0], label, group, groups)


def _auc_of_ranks(
    rank: np.ndarray, label: np.ndarray, group: np.ndarray, groups: int
) -> np.ndarray:
    """Mann-Whitney: AUC per group from 0-based within-group ranks."""
    positives = np.bincount(group, weights=label, minlength=groups)
    negatives = np.bincount(group, minlength=groups) - positives
    rank_sum = np.bincount(group, weights=np.where(label, rank + 1.0, 0.0), minlength=groups)
    defined = (positives > 0) & (negatives > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        area = (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)
    return np.where(defined, area, 0.5)


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``label`` (0.5 when undefined)."""
    return float(group_auc(score, label, np.zeros(len(score), dtype=np.int64), 1)[0])


def _group_scores(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each value's rank within its ticker, scaled to (-0.5, 0.5): comparable across tickers
    and immune to fat tails and to each ticker's own level and scale."""
    rank, size = _group_ranks(values, group)
    return (rank + 0.5) / size - 0.5


def _within_auc(rank: np.ndarray, label: np.ndarray, group: np.ndarray) -> float:
    """AUC over the pairs of rows of the same ticker (each ticker weighted by its pairs)."""
    groups = int(group.max()) + 1
    positives = np.bincount(group, weights=label, minlength=groups)
    pairs = positives * (np.bincount(group, minlength=groups) - positives)
    if pairs.sum() == 0:
        return 0.5
    return float((_auc_of_ranks(rank, label, group, groups) * pairs).sum() / pairs.sum())


# -- the rows every column is judged on -----------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """Every ticker's bars laid end to end (tickers sorted), with what the test needs per row.

    ``usable`` marks rows whose label and past returns are both known; columns handed to
    ``associations`` are laid out the same way (one value per bar of every ticker).
    """

    tickers: tuple[str, ...]
    offsets: np.ndarray  # where each ticker's bars start
    bar_dates: np.ndarray  # the date of every bar
    usable: np.ndarray  # bool, per bar
    group: np.ndarray  # ticker code, per usable row
    day: np.ndarray  # date position in the union of dates, per usable row
    label: np.ndarray  # bool: close rose over the next h bars, per usable row
    past_label: np.ndarray  # bool: close rose over the previous h bars, per usable row
    past: np.ndarray  # (usable rows, k): ranked past returns, their signs, and a constant
    horizon: int


def _past_log_returns(close: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(close), np.nan)
    if len(close) > window:
        out[window:] = np.log(close[window:] / close[:-window])
    return out


def market_panel(histories: Mapping[str, PriceHistory], horizon: int) -> Panel:
    """The rows of every ticker in ``histories`` (tickers in sorted order)."""
    tickers = tuple(sorted(histories))
    windows = past_windows(horizon)
    lengths = np.array([len(histories[t]) for t in tickers], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    dates = (
        np.concatenate([histories[t].dates for t in tickers])
        if tickers
        else np.empty(0, "datetime64[D]")
    )
    label = np.concatenate(
        [direction_labels(histories[t].close, horizon) for t in tickers] or [np.empty(0)]
    )
    returns = np.column_stack(
        [
            np.concatenate(
                [_past_log_returns(histories[t].close, w) for t in tickers] or [np.empty(0)]
            )
            for w in windows
        ]
    )
    codes = np.repeat(np.arange(len(tickers)), lengths)
    usable = np.isfinite(label) & np.isfinite(returns).all(axis=1)
    group = codes[usable]
    _, day = np.unique(dates[usable], return_inverse=True)
    past_h = returns[usable, windows.index(horizon)]
    ranked = [_group_scores(returns[usable, i], group) for i in range(len(windows))]
    signs = [np.sign(returns[usable, i]) for i in range(len(windows))]
    design = np.column_stack([*ranked, *signs, np.ones(len(group))])
    return Panel(
        tickers=tickers,
        offsets=offsets,
        bar_dates=dates,
        usable=usable,
        group=group,
        day=day.astype(np.int64),
        label=label[usable] > 0.5,
        past_label=past_h > 0,
        past=design,
        horizon=horizon,
    )


# -- the columns ----------------------------------------------------------------------------------


def _log_positive(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the ``window`` values before each row (NaN until there are that many)."""
    out = np.full(len(values), np.nan)
    if len(values) > window:
        cumulative = np.r_[0.0, np.cumsum(values)]
        out[window:] = (cumulative[window:-1] - cumulative[: -window - 1]) / window
    return out


RAW_TRANSFORMS: dict[str, str] = {
    "open": "log(open / close) of the same day",
    "high": "log(high / close) of the same day",
    "low": "log(low / close) of the same day",
    "volume": "log volume against its mean over the 20 days before",
    "volume_level": "log volume, ranked within its ticker",
    "volume_change": "log(volume / volume {h} days before)",
}


def raw_column(name: str) -> str:
    """The raw column a tested form comes from: ``volume_level`` -> ``volume``."""
    return name.split("_")[0]


def raw_transforms(horizon: int) -> dict[str, str]:
    return {name: text.format(h=horizon) for name, text in RAW_TRANSFORMS.items()}


def raw_columns(histories: Mapping[str, PriceHistory], horizon: int) -> dict[str, np.ndarray]:
    """The raw inputs, each made scale-free, laid out like ``market_panel``.

    Close is the label's own source and cannot be judged against itself; the features derived
    from it are judged by the feature audit and the point-in-time check.
    """
    tickers = sorted(histories)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in RAW_TRANSFORMS}
    for ticker in tickers:
        history = histories[ticker]
        log_close = np.log(history.close)
        log_volume = _log_positive(history.volume)
        columns["open"].append(np.log(history.open) - log_close)
        columns["high"].append(np.log(history.high) - log_close)
        columns["low"].append(np.log(history.low) - log_close)
        finite = np.isfinite(log_volume)
        filled = np.where(finite, log_volume, 0.0)
        counts = _trailing_mean(finite.astype(float), 20)
        with np.errstate(divide="ignore", invalid="ignore"):
            baseline = _trailing_mean(filled, 20) / counts
        columns["volume"].append(np.where(counts > 0.5, log_volume - baseline, np.nan))
        columns["volume_level"].append(log_volume)
        change = np.full(len(history), np.nan)
        change[horizon:] = log_volume[horizon:] - log_volume[:-horizon]
        columns["volume_change"].append(change)
    return {name: np.concatenate(parts or [np.empty(0)]) for name, parts in columns.items()}


def dataset_columns(dataset: Dataset, panel: Panel) -> dict[str, np.ndarray]:
    """The dataset's features, laid out like ``panel`` (NaN at bars with no dataset row)."""
    total = len(panel.usable)
    columns = np.full((total, len(dataset.feature_names)), np.nan)
    where = {ticker: code for code, ticker in enumerate(panel.tickers)}
    ends = np.r_[panel.offsets[1:], total]
    for code, ticker in enumerate(dataset.ticker_names):
        if ticker not in where:
            continue
        start, end = panel.offsets[where[ticker]], ends[where[ticker]]
        rows = np.flatnonzero(dataset.ticker_codes == code)
        bars = start + np.searchsorted(panel.bar_dates[start:end], dataset.dates[rows])
        known = (bars < end) & (panel.bar_dates[np.minimum(bars, total - 1)] == dataset.dates[rows])
        columns[bars[known]] = dataset.X[rows[known]]
    return {name: columns[:, i] for i, name in enumerate(dataset.feature_names)}


# -- check 1: association beyond the past ---------------------------------------------------------


Fit = list[tuple[int, int, np.ndarray]]  # per ticker: first row, end row, (D'D)^+


def _fit(design: np.ndarray, group: np.ndarray) -> Fit:
    """What a least-squares fit on ``design`` needs per ticker, whatever is fitted.

    A ticker's rows are contiguous (the panel lays tickers end to end); the pseudo-inverse
    makes a design column constant within a ticker (a sign that never changes) harmless.
    """
    bounds = np.r_[0, np.flatnonzero(np.diff(group)) + 1, len(group)]
    return [
        (start, end, np.linalg.pinv(design[start:end].T @ design[start:end], hermitian=True))
        for start, end in itertools.pairwise(bounds)
    ]


def _residuals(scores: np.ndarray, design: np.ndarray, fit: Fit) -> np.ndarray:
    """``scores`` less their least-squares fit on ``design``, ticker by ticker."""
    out = np.empty(len(scores))
    for start, end, inverse in fit:
        rows = design[start:end]
        out[start:end] = scores[start:end] - rows @ (inverse @ (rows.T @ scores[start:end]))
    return out


def _beyond_past(
    residual: np.ndarray, label: np.ndarray, day: np.ndarray, horizon: int
) -> tuple[float, float]:
    """The residual's AUC for the label, and its standard error, never below the worst case.

    Batch means: the AUC over contiguous blocks of dates (each at least ``BLOCK_HORIZONS``
    horizons long, so overlapping labels and the market's moves shared by every ticker stay
    inside a block); their mean is the statistic, their spread over sqrt(blocks) its standard
    error. The worst case is every ticker moving as one and every label overlapping its
    ``horizon`` neighbours: ``days / horizon`` independent rows, so ``sqrt(horizon / (3 *
    days))``. It also covers a bias blocks cannot see: with few days, a persistent column (a
    200-day average) at one row contains the moves that make up the labels of earlier rows, so
    the rows of one short history are not exchangeable. With fewer than ``MIN_BLOCKS`` blocks,
    the pooled AUC and the worst case.
    """
    days = int(day.max()) + 1 if len(day) else 0
    worst_case = math.sqrt(horizon / (3.0 * max(days, 1)))
    blocks = min(MAX_BLOCKS, days // (BLOCK_HORIZONS * horizon))
    if blocks < MIN_BLOCKS:
        return auc(residual, label), worst_case
    block = np.minimum(day * blocks // days, blocks - 1)
    values = group_auc(residual, label, block, blocks)
    spread = float(np.std(values, ddof=1) / math.sqrt(blocks))
    return float(values.mean()), max(worst_case, spread)


def associations(
    columns: Mapping[str, np.ndarray],
    panel: Panel,
    transforms: Mapping[str, str] | None = None,
) -> tuple[list[Association], list[str]]:
    """Each column's association with the forward and past direction, pooled over tickers.

    Returns the associations and, for columns too sparse to judge, why they were skipped.
    """
    results, skipped = [], []
    fits: dict[bytes, Fit] = {}  # columns defined on the same rows share their fits
    for name, values in columns.items():
        values = values[panel.usable]
        finite = np.isfinite(values)
        if finite.sum() < MIN_ROWS:
            skipped.append(f"{name}: {int(finite.sum())} usable rows (need {MIN_ROWS})")
            continue
        group, label = panel.group[finite], panel.label[finite]
        rank, size = _group_ranks(values[finite], group)
        scores = (rank + 0.5) / size - 0.5
        if np.ptp(scores) == 0:
            skipped.append(f"{name}: constant")
            continue
        key = np.packbits(finite).tobytes()
        if key not in fits:
            fits[key] = _fit(panel.past[finite], group)
        residual = _residuals(scores, panel.past[finite], fits[key])
        beyond, standard_error = _beyond_past(residual, label, panel.day[finite], panel.horizon)
        results.append(
            Association(
                name=name,
                forward_auc=_within_auc(rank, label, group),
                past_auc=_within_auc(rank, panel.past_label[finite], group),
                beyond_past_auc=beyond,
                standard_error=standard_error,
                rows=int(finite.sum()),
                tickers=int(np.count_nonzero(np.bincount(group))),
                transform=(transforms or {}).get(name, ""),
            )
        )
    return results, skipped


def _needed_edge(association: Association, thresholds: Thresholds) -> float:
    return max(thresholds.min_auc - 0.5, thresholds.z * association.standard_error)


def _as_auc(value: float) -> tuple[float, str]:
    """An AUC folded to >= 0.5, and whether the column runs higher or lower before rises."""
    return (value, "higher") if value >= 0.5 else (1.0 - value, "lower")


def association_findings(
    found: Sequence[Association], kind: Kind, horizon: int, thresholds: Thresholds
) -> list[LookaheadFinding]:
    """A leak for every column whose edge beyond the past is too large to be honest."""
    findings = []
    for association in found:
        needed = _needed_edge(association, thresholds)
        if association.edge < needed:
            continue
        beyond, direction = _as_auc(association.beyond_past_auc)
        forward, _ = _as_auc(association.forward_auc)
        past, _ = _as_auc(association.past_auc)
        what = f" ({association.transform})" if association.transform else ""
        why = (
            f"{kind} {association.name}{what} runs {direction} before {horizon}-day rises than "
            f"before falls: AUC {forward:.2f} for the label over {association.rows} rows of "
            f"{association.tickers} ticker(s), {beyond:.2f} after removing what past returns "
            f"explain (an honest {kind} stays below {0.5 + needed:.2f}), against {past:.2f} "
            f"for the past {horizon}-day move: it knows future prices better than past ones"
        )
        findings.append(LookaheadFinding(kind, association.name, beyond, 0.5 + needed, True, why))
    return findings


# -- check 2: point in time -----------------------------------------------------------------------


def point_in_time_findings(
    histories: Mapping[str, PriceHistory],
    names: Sequence[str],
    *,
    tickers: int,
    cuts: int,
    seed: int,
    first_row: int = 0,
) -> tuple[list[LookaheadFinding], int]:
    """Recompute ``names`` on a seeded sample of tickers cut at seeded dates (``find_lookahead``).

    Cut dates are drawn from each ticker's bars after ``first_row`` (the slowest feature's
    warm-up) and before its last bar. Returns one leak per feature that changed, and the number
    of recomputations compared.
    """
    rng = np.random.default_rng(seed)
    pool = sorted(histories)
    chosen: list[int] = (
        rng.choice(len(pool), size=min(tickers, len(pool)), replace=False).tolist() if pool else []
    )
    mismatches: dict[str, list] = {}
    checks = 0
    for index in sorted(chosen):
        history = histories[pool[index]]
        candidates = history.dates[first_row:-1]
        if len(candidates) == 0:
            continue
        cut_dates = rng.choice(candidates, size=min(cuts, len(candidates)), replace=False)
        checks += len(cut_dates)
        for problem in find_lookahead(history, np.sort(cut_dates), names):
            mismatches.setdefault(problem.feature, []).append(problem)
    findings = []
    for feature, problems in mismatches.items():
        first = problems[0]
        why = (
            f"feature {feature} changes when later bars are removed: {first.ticker} on "
            f"{first.date} is {first.full_value:.6g} computed on the full history but "
            f"{first.cut_value:.6g} on bars up to {first.cut} ({len(problems)} value(s) differ "
            f"across {checks} cut histories); a value at date t may use bars up to t only "
            "(a centred or forward-shifted window?)"
        )
        findings.append(
            LookaheadFinding("point_in_time", feature, float(len(problems)), 0.0, True, why)
        )
    return findings, checks


# -- check 3: plausibility ------------------------------------------------------------------------


def plausibility_finding(
    holdout_auc: float, thresholds: Thresholds, *, demo: bool = False
) -> LookaheadFinding | None:
    """A warning (or, when configured, a leak) for a holdout AUC above the ceiling."""
    if not holdout_auc > thresholds.max_holdout_auc:
        return None
    why = (
        f"holdout AUC {holdout_auc:.3f} is above {thresholds.max_holdout_auc:.2f}, more than "
        "daily direction on real markets supports: look for a leak before trusting it"
    )
    if demo:
        why += " (expected on the built-in demo market, whose signal is deliberately far "
        why += "stronger than any real market's)"
    return LookaheadFinding(
        "plausibility",
        "holdout",
        holdout_auc,
        thresholds.max_holdout_auc,
        thresholds.holdout_auc_fails,
        why,
    )


# -- the audits -----------------------------------------------------------------------------------


def _one_per_column(findings: list[LookaheadFinding]) -> list[LookaheadFinding]:
    """Volume is tested two ways; report the column once, by its strongest evidence."""
    strongest: dict[str, LookaheadFinding] = {}
    for finding in findings:
        column = raw_column(finding.subject)
        finding = replace(finding, subject=column)
        if column not in strongest or finding.statistic > strongest[column].statistic:
            strongest[column] = finding
    return list(strongest.values())


def _input_findings(
    histories: Mapping[str, PriceHistory], panel: Panel, thresholds: Thresholds
) -> tuple[list[Association], list[str], list[LookaheadFinding]]:
    horizon = panel.horizon
    found, skipped = associations(raw_columns(histories, horizon), panel, raw_transforms(horizon))
    return (
        found,
        skipped,
        _one_per_column(association_findings(found, "input", horizon, thresholds)),
    )


def audit_inputs(
    histories: Mapping[str, PriceHistory], horizon: int, thresholds: Thresholds
) -> LookaheadAudit:
    """Check 1 on the raw columns: what ``data check`` runs."""
    clock = time.perf_counter()
    found, skipped, findings = _input_findings(
        histories, market_panel(histories, horizon), thresholds
    )
    return LookaheadAudit(
        findings=tuple(findings),
        associations=tuple(found),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - clock,
        thresholds=thresholds,
    )


def audit_retrain(market: MarketData, dataset: Dataset, thresholds: Thresholds) -> LookaheadAudit:
    """Checks 1 and 2 before a retrain: raw columns and features, then point in time.

    It runs where both the market (raw columns, past returns, histories to cut) and the dataset
    (the features exactly as the model sees them) exist: the pipeline, before training. Check 3
    needs the holdout: the trainer calls ``judge_holdout`` once it has scored it.
    """
    clock = time.perf_counter()
    histories, horizon = market.histories, dataset.horizon
    panel = market_panel(histories, horizon)
    raw, raw_skipped, input_leaks = _input_findings(histories, panel, thresholds)
    features, feature_skipped = associations(dataset_columns(dataset, panel), panel)
    feature_leaks = association_findings(features, "feature", horizon, thresholds)
    stale, checks = point_in_time_findings(
        histories,
        dataset.feature_names,
        tickers=thresholds.point_in_time_tickers,
        cuts=thresholds.point_in_time_cuts,
        seed=thresholds.seed,
        first_row=feature_window(dataset.feature_names) - 1,
    )
    return LookaheadAudit(
        findings=(*input_leaks, *feature_leaks, *stale),
        associations=(*raw, *features),
        point_in_time_checks=checks,
        skipped=(*raw_skipped, *feature_skipped),
        seconds=time.perf_counter() - clock,
        thresholds=thresholds,
        demo_market=market.source.provider == "demo",
    )
