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
worst case (see ``_Rows.beyond_past``): with five years of daily data the bar is about 0.65, with
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


@dataclass(frozen=True)
class _Groups:
    """Rows in groups, and where a sort by group, then value, puts each group.

    All of it depends on the groups only, so the columns judged on the same rows share it: a
    column then costs one sort (``sort``) and a few passes (``rank_sums``).
    """

    code: np.ndarray  # float64 group code per row, in the rows' own order
    single: bool  # every row in one group: sort by value alone
    counts: np.ndarray  # int64 rows per group code (0 .. groups - 1)
    first: np.ndarray  # int64 sorted position of each group's first row
    start: np.ndarray  # float64 per sorted position: its group's first position
    offset: np.ndarray  # float64 per sorted position: its rank when nothing ties
    size: np.ndarray  # float64 per sorted position: its group's rows
    boundaries: np.ndarray  # sorted positions (0 < p < rows) where a group begins
    nonempty: np.ndarray  # the group codes that have rows
    index: np.ndarray  # int64 0 .. rows - 1, packed into sort keys by ``_packed_order``

    @classmethod
    def of(cls, group: np.ndarray, groups: int) -> _Groups:
        rows = len(group)
        counts = np.bincount(group, minlength=groups)
        first = np.cumsum(counts) - counts
        start = np.repeat(first, counts).astype(np.float64)
        return cls(
            code=group.astype(np.float64),
            single=not (rows and (group != group[0]).any()),
            counts=counts,
            first=first,
            start=start,
            offset=np.arange(rows) - start,
            size=np.repeat(counts, counts).astype(np.float64),
            boundaries=first[(first > 0) & (first < rows)],
            nonempty=np.flatnonzero(counts),
            index=np.arange(rows, dtype=np.int64),
        )

    def sort(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The order that sorts ``values`` by group, then value, and the 0-based rank within its
        group at each sorted position (equal neighbours share their average rank).

        The reference is one argsort for all groups, each group's values shifted past the
        previous group's: ``argsort(group * span + (values - low))`` (one group: ``argsort(
        values)``). Values closer together than that key's rounding can come out in either
        order and are then ranked in the order they come. ``_packed_order`` finds the same
        ranks with a cheaper sort and says when it cannot; then the reference runs, so every
        result is the reference's.
        """
        if len(values) == 0:
            return self.index, self.offset
        low, high = values.min(), values.max()
        key = values - low  # >= 0, as is every key below
        if not self.single:
            key = self.code * ((high - low) + 1.0) + key
        # Below 2**51 the keys of two groups are at least 1 apart: no rounding merges them, so
        # the sorted rows come group after group. (NaN, infinite, or not a double: no shortcut.)
        laid_out = key.dtype == np.float64 and float(key.max()) < 2.0**51
        packed = self._packed_order(key, values) if laid_out else None
        if packed is not None:
            order, ordered = packed
        else:  # the reference (one group: the values themselves, as exact as a sort gets)
            order = np.argsort(values if self.single else key)
            ordered = values[order]
        if self.single or laid_out:
            return order, self._ranks(ordered)
        # Groups may interleave: rank as the reference does in the order it gives, then lay the
        # rows out group after group, as everything else expects.
        ranks = _ranks_by_neighbours(ordered, self.code[order])
        by_group = np.argsort(self.code[order], kind="stable")
        return order[by_group], ranks[by_group]

    def _packed_order(
        self, key: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The reference's order as far as ranks can tell, from a plain sort (about half the
        cost of an argsort), and the values in it; None when it cannot promise the reference's
        ranks.

        A non-negative double's bits, read as an integer, sort as the double does. Their low
        ``bits`` bits (enough for any row's index) are replaced by the row's index: one integer
        sort then orders rows by key to within 2**bits units in the last place, and carries
        each row's index along. The few rows whose shortened keys are equal are then put in key
        order. That is an order the reference could have produced, hence its ranks, unless two
        rows have equal keys but differ (another value, or another group: rounding merged
        them); only the reference can say in which order it puts those.
        """
        bits = max(len(key) - 1, 1).bit_length()
        mask = (1 << bits) - 1
        packed = key.view(np.int64) & ~mask
        packed |= self.index
        packed.sort()
        coarse = packed >> bits
        order = packed & mask
        same = np.flatnonzero(coarse[1:] == coarse[:-1])  # i and i + 1 share a shortened key
        if len(same):
            at = np.union1d(same, same + 1)
            rows = order[at]
            order[at] = rows[np.lexsort((key[rows], coarse[at]))]
            first, second = order[same], order[same + 1]
            merged = (key[first] == key[second]) & (
                (values[first] != values[second]) | (self.code[first] != self.code[second])
            )
            if merged.any():
                return None
        return order, values[order]

    def _ranks(self, ordered: np.ndarray) -> np.ndarray:
        """The within-group rank at each sorted position (``ordered``: the values in sorted
        order); equal neighbours share their average rank. Do not write to the result: when
        nothing ties it is ``offset`` itself."""
        tie = ordered[1:] == ordered[:-1]
        tie[self.boundaries - 1] = False  # a tie never spans two groups
        tied = np.flatnonzero(tie)  # ordered[i] == ordered[i + 1]
        if len(tied) == 0:
            return self.offset  # the usual case for continuous values: no tie to average
        # Runs of equal values, from their first to their last position: each position gets
        # the run's average rank (exact: half-integers). Only the tied positions are visited.
        new_run = np.diff(tied) > 1
        first = tied[np.r_[True, new_run]]
        last = tied[np.r_[new_run, True]] + 1
        length = last - first + 1
        within = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        ranks = self.offset.copy()
        ranks[np.repeat(first, length) + within] = np.repeat(
            (self.offset[first] + self.offset[last]) / 2.0, length
        )
        return ranks

    def rank_sums(self, ranks: np.ndarray, label: np.ndarray) -> np.ndarray:
        """Per group, the sum of the ranks at the sorted positions where ``label`` holds.

        Ranks are half-integers and every partial sum is exactly representable, so the sum is
        exact whatever order it is taken in."""
        sums = np.zeros(len(self.counts))
        if len(ranks):
            picked = ranks * label  # ranks are >= 0: x 0 or 1 (a far faster pass than np.where)
            sums[self.nonempty] = np.add.reduceat(picked, self.first[self.nonempty])
        return sums

    def areas(self, values: np.ndarray, label: np.ndarray, counts: _LabelCounts) -> np.ndarray:
        """AUC of ``values`` for ``label`` within each group (0.5 where undefined)."""
        order, ranks = self.sort(values)
        return counts.areas(self.rank_sums(ranks, label[order]))


def _ranks_by_neighbours(ordered: np.ndarray, ordered_group: np.ndarray) -> np.ndarray:
    """``_Groups._ranks`` where sorted groups may interleave (keys of 2**51 and more, where
    rounding can merge two groups' keys): groups and ties found from neighbours alone."""
    new_group = np.r_[True, ordered_group[1:] != ordered_group[:-1]]
    new_value = new_group | np.r_[True, ordered[1:] != ordered[:-1]]
    position = np.arange(len(ordered))
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    tie_start = np.maximum.accumulate(np.where(new_value, position, 0))
    tie_end = np.r_[np.flatnonzero(new_value)[1:], len(ordered)][np.cumsum(new_value) - 1]
    return (tie_start + tie_end - 1) / 2.0 - group_start


@dataclass(frozen=True)
class _LabelCounts:
    """A boolean label's positives and negatives per group: all Mann-Whitney needs but ranks."""

    positives: np.ndarray  # float64 per group code
    negatives: np.ndarray
    pairs: np.ndarray  # positive-negative pairs per group

    @classmethod
    def of(cls, label: np.ndarray, group: np.ndarray, counts: np.ndarray) -> _LabelCounts:
        """``counts``: rows per group code (``_Groups.counts``)."""
        positives = np.bincount(group[label], minlength=len(counts)).astype(np.float64)
        negatives = counts - positives
        return cls(positives, negatives, positives * negatives)

    def areas(self, rank_sums: np.ndarray) -> np.ndarray:
        """Mann-Whitney: AUC per group from the sums of the positives' 0-based ranks."""
        positives, negatives = self.positives, self.negatives
        defined = (positives > 0) & (negatives > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            area = (rank_sums + positives - positives * (positives + 1) / 2.0) / (
                positives * negatives
            )
        return np.where(defined, area, 0.5)

    def pooled(self, areas: np.ndarray) -> float:
        """The groups' AUCs pooled, each group weighted by its pairs (0.5 with no pair)."""
        if self.pairs.sum() == 0:
            return 0.5
        return float((areas * self.pairs).sum() / self.pairs.sum())


def group_auc(score: np.ndarray, label: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """AUC of ``score`` for the boolean ``label`` within each group (0.5 where undefined)."""
    label = np.asarray(label, dtype=bool)
    rows = _Groups.of(group, groups)
    return rows.areas(score, label, _LabelCounts.of(label, group, rows.counts))


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``label`` (0.5 when undefined)."""
    return float(group_auc(score, label, np.zeros(len(score), dtype=np.int64), 1)[0])


def _group_scores(values: np.ndarray, groups: _Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each value's rank within its ticker, scaled to (-0.5, 0.5): comparable across tickers
    and immune to fat tails and to each ticker's own level and scale.

    Also returns the sort and the ranks at its positions, for AUCs of the same values.
    """
    order, ranks = groups.sort(values)
    scores = np.empty(len(values))
    scores[order] = (ranks + 0.5) / groups.size - 0.5
    return scores, order, ranks


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


def _past_log_returns(close: np.ndarray, position: np.ndarray, window: int) -> np.ndarray:
    """The log return over the ``window`` bars before each bar of every ticker at once
    (``close``: the tickers' closes end to end; ``position``: each bar's index in its ticker's
    history). NaN for a ticker's first ``window`` bars, whose return straddles two tickers."""
    out = np.full(len(close), np.nan)
    if len(close) > window:
        with np.errstate(divide="ignore", invalid="ignore"):  # straddling ones: dropped below
            out[window:] = np.log(close[window:] / close[:-window])
        out[position < window] = np.nan
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
    close = np.concatenate([histories[t].close for t in tickers] or [np.empty(0)])
    position = np.arange(len(close)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    returns = [_past_log_returns(close, position, w) for w in windows]
    codes = np.repeat(np.arange(len(tickers)), lengths)
    usable = np.isfinite(label)
    for returns_w in returns:
        usable &= np.isfinite(returns_w)
    group = codes[usable]
    past = [returns_w[usable] for returns_w in returns]
    tickers_rows = _Groups.of(group, len(tickers))
    columns = np.empty((2 * len(windows) + 1, len(group)))  # built a column per row ...
    for i, returns_i in enumerate(past):
        columns[i] = _group_scores(returns_i, tickers_rows)[0]
        np.sign(returns_i, out=columns[len(windows) + i])
    columns[-1] = 1.0
    design = np.ascontiguousarray(columns.T)  # ... and copied once to C order, as fits expect
    return Panel(
        tickers=tickers,
        offsets=offsets,
        bar_dates=dates,
        usable=usable,
        group=group,
        day=_date_positions(dates[usable]),
        label=label[usable] > 0.5,
        past_label=past[windows.index(horizon)] > 0,
        past=design,
        horizon=horizon,
    )


def _date_positions(dates: np.ndarray) -> np.ndarray:
    """Each date's position in the sorted union of ``dates`` (``np.unique``'s inverse), counted
    on a calendar rather than by a sort when the calendar is not much longer than the dates."""
    if len(dates) == 0:
        return np.zeros(0, dtype=np.int64)
    days = dates.astype(np.int64)  # in the dates' own unit (days for price histories)
    first = int(days.min())
    span = int(days.max()) - first + 1
    if span > 4 * len(days) + 10_000:  # sparse over a long calendar: sorting is cheaper
        return np.unique(days, return_inverse=True)[1].astype(np.int64)
    seen = np.zeros(span, dtype=bool)
    seen[days - first] = True
    return (np.cumsum(seen) - 1)[days - first]


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
    source = np.full(total, len(dataset), dtype=np.int64)  # the dataset row of every bar
    where = {ticker: code for code, ticker in enumerate(panel.tickers)}
    ends = np.r_[panel.offsets[1:], total]
    for code, ticker in enumerate(dataset.ticker_names):
        if ticker not in where:
            continue
        start, end = panel.offsets[where[ticker]], ends[where[ticker]]
        rows = np.flatnonzero(dataset.ticker_codes == code)
        bars = start + np.searchsorted(panel.bar_dates[start:end], dataset.dates[rows])
        known = (bars < end) & (panel.bar_dates[np.minimum(bars, total - 1)] == dataset.dates[rows])
        source[bars[known]] = rows[known]
    # One gather per feature, from a copy with an extra NaN for the bars with no dataset row:
    # every column comes out contiguous (cheap to index) and as float64 as before.
    features = np.empty((len(dataset.feature_names), len(dataset) + 1))
    features[:, :-1] = dataset.X.T
    features[:, -1] = np.nan
    return dict(zip(dataset.feature_names, features.take(source, axis=1), strict=True))


# -- check 1: association beyond the past ---------------------------------------------------------


Fit = list[tuple[int, int, np.ndarray]]  # per ticker: first row, end row, (D'D)^+


def _fit(design: np.ndarray, group: np.ndarray) -> Fit:
    """What a least-squares fit on ``design`` needs per ticker, whatever is fitted.

    A ticker's rows are contiguous (the panel lays tickers end to end); the pseudo-inverse
    makes a design column constant within a ticker (a sign that never changes) harmless.
    """
    bounds = np.r_[0, np.flatnonzero(np.diff(group)) + 1, len(group)]
    spans = list(itertools.pairwise(bounds.tolist()))
    if not spans:
        return []
    grams = np.stack([design[start:end].T @ design[start:end] for start, end in spans])
    # One call for every ticker: NumPy runs the same LAPACK routine on each matrix of the stack,
    # so each inverse is the one a call of its own gives, without its Python overhead.
    inverses = np.linalg.pinv(grams, hermitian=True)
    return [(start, end, inverse) for (start, end), inverse in zip(spans, inverses, strict=True)]


def _residuals(scores: np.ndarray, design: np.ndarray, fit: Fit) -> np.ndarray:
    """``scores`` less their least-squares fit on ``design``, ticker by ticker."""
    out = np.empty(len(scores))
    for start, end, inverse in fit:
        rows = design[start:end]
        out[start:end] = scores[start:end] - rows @ (inverse @ (rows.T @ scores[start:end]))
    return out


@dataclass(frozen=True)
class _Rows:
    """What every column defined on the same usable rows shares, computed once for all of them:
    the tickers' and the date blocks' layout, the labels' counts in each, the fits. What is
    left per column is its values: two sorts (within tickers, within blocks) and a few passes.
    """

    tickers: _Groups
    label: np.ndarray  # bool, per row
    past_label: np.ndarray  # bool, per row
    forward: _LabelCounts  # the label per ticker
    past: _LabelCounts  # the past h-day move per ticker
    design: np.ndarray
    fit: Fit
    blocks: _Groups  # date blocks (one group when there are too few days for blocks)
    by_block: _LabelCounts  # the label per block
    pooled: bool  # fewer than MIN_BLOCKS blocks: the pooled AUC, and the worst case
    worst_case: float  # the standard error's floor (see ``beyond_past``)

    @classmethod
    def of(cls, panel: Panel, finite: np.ndarray) -> _Rows:
        every = bool(finite.all())  # the raw columns usually are: no copies then
        group = panel.group if every else panel.group[finite]
        label = panel.label if every else panel.label[finite]
        past_label = panel.past_label if every else panel.past_label[finite]
        day = panel.day if every else panel.day[finite]
        # ``take`` copies the rows, C-ordered like the panel's, faster than a boolean index
        design = panel.past if every else panel.past.take(np.flatnonzero(finite), axis=0)
        tickers = int(group.max()) + 1
        days = int(day.max()) + 1 if len(day) else 0
        blocks = min(MAX_BLOCKS, days // (BLOCK_HORIZONS * panel.horizon))
        pooled = blocks < MIN_BLOCKS
        if pooled:
            block, blocks = np.zeros(len(day), dtype=np.int64), 1
        else:
            block = np.minimum(day * blocks // days, blocks - 1)
        by_ticker, by_block = _Groups.of(group, tickers), _Groups.of(block, blocks)
        return cls(
            tickers=by_ticker,
            label=label,
            past_label=past_label,
            forward=_LabelCounts.of(label, group, by_ticker.counts),
            past=_LabelCounts.of(past_label, group, by_ticker.counts),
            design=design,
            fit=_fit(design, group),
            blocks=by_block,
            by_block=_LabelCounts.of(label, block, by_block.counts),
            pooled=pooled,
            worst_case=math.sqrt(panel.horizon / (3.0 * max(days, 1))),
        )

    def within_tickers(self, order: np.ndarray, ranks: np.ndarray) -> tuple[float, float]:
        """The AUCs of a column for the label and for the past move, over pairs of rows of the
        same ticker (each ticker weighted by its pairs); ``order`` and ``ranks`` from its sort
        within tickers, which both labels share."""
        forward = self.forward.areas(self.tickers.rank_sums(ranks, self.label[order]))
        past = self.past.areas(self.tickers.rank_sums(ranks, self.past_label[order]))
        return self.forward.pooled(forward), self.past.pooled(past)

    def beyond_past(self, residual: np.ndarray) -> tuple[float, float]:
        """The residual's AUC for the label, and its standard error, never below the worst case.

        Batch means: the AUC over contiguous blocks of dates (each at least ``BLOCK_HORIZONS``
        horizons long, so overlapping labels and the market's moves shared by every ticker stay
        inside a block); their mean is the statistic, their spread over sqrt(blocks) its
        standard error. The worst case is every ticker moving as one and every label
        overlapping its ``horizon`` neighbours: ``days / horizon`` independent rows, so
        ``sqrt(horizon / (3 * days))``. It also covers a bias blocks cannot see: with few days,
        a persistent column (a 200-day average) at one row contains the moves that make up the
        labels of earlier rows, so the rows of one short history are not exchangeable. With
        fewer than ``MIN_BLOCKS`` blocks, the pooled AUC and the worst case.
        """
        values = self.blocks.areas(residual, self.label, self.by_block)
        if self.pooled:
            return float(values[0]), self.worst_case
        spread = float(np.std(values, ddof=1) / math.sqrt(len(values)))
        return float(values.mean()), max(self.worst_case, spread)


def associations(
    columns: Mapping[str, np.ndarray],
    panel: Panel,
    transforms: Mapping[str, str] | None = None,
) -> tuple[list[Association], list[str]]:
    """Each column's association with the forward and past direction, pooled over tickers.

    Returns the associations and, for columns too sparse to judge, why they were skipped.
    """
    results, skipped = [], []
    shared: dict[bytes, _Rows] = {}  # columns defined on the same rows share all but their sorts
    for name, values in columns.items():
        values = values[panel.usable]
        finite = np.isfinite(values)
        rows = int(np.count_nonzero(finite))
        if rows < MIN_ROWS:
            skipped.append(f"{name}: {rows} usable rows (need {MIN_ROWS})")
            continue
        key = np.packbits(finite).tobytes()
        if key not in shared:
            shared[key] = _Rows.of(panel, finite)
        common = shared[key]
        if rows < len(values):
            values = values[finite]
        scores, order, ranks = _group_scores(values, common.tickers)
        if np.ptp(scores) == 0:
            skipped.append(f"{name}: constant")
            continue
        forward, past = common.within_tickers(order, ranks)
        beyond, standard_error = common.beyond_past(_residuals(scores, common.design, common.fit))
        results.append(
            Association(
                name=name,
                forward_auc=forward,
                past_auc=past,
                beyond_past_auc=beyond,
                standard_error=standard_error,
                rows=rows,
                tickers=len(common.tickers.nonempty),
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
    (the features exactly as the model sees them) exist: the pipeline, beside training. Check 3
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
