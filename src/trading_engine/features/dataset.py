"""Turn validated market data into the model's rows: features, labels, dates, tickers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..data.market import MarketData, QualityReport
from .catalogue import BASE_FEATURES, feature_window
from .indicators import compute_features
from .labels import direction_labels, label_end_dates

if TYPE_CHECKING:
    from ..config import Settings


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Dataset:
    """Model rows ordered by date, then ticker. Arrays are read-only.

    ``y`` is 1.0 (close rose over ``horizon`` bars), 0.0 (it did not) or NaN (the future close
    is not known yet: the newest ``horizon`` rows of each ticker). ``label_end`` is the date a
    row's label becomes known; splits purge on it so no training label overlaps evaluation.
    """

    X: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    label_end: np.ndarray
    ticker_codes: np.ndarray
    ticker_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    horizon: int
    report: QualityReport = field(default_factory=QualityReport, compare=False)

    def __post_init__(self) -> None:
        # Every split relies on date order; a shuffled dataset cannot be built.
        if len(self.dates) > 1 and (np.diff(self.dates.astype(np.int64)) < 0).any():
            raise ValueError("Dataset rows must be ordered by date; shuffled rows are refused")

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def tickers(self) -> np.ndarray:
        """The ticker of each row."""
        return np.asarray(self.ticker_names, dtype=object)[self.ticker_codes]

    @property
    def has_label(self) -> np.ndarray:
        return ~np.isnan(self.y)

    def take(self, mask: np.ndarray) -> Dataset:
        """Rows where ``mask`` is true, in date order: a boolean mask cannot reorder rows."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != self.dates.shape:
            raise ValueError(
                f"take() expects a boolean mask of length {len(self)}, "
                f"got {mask.dtype} {mask.shape}"
            )
        return Dataset(
            X=_read_only(self.X[mask]),
            y=_read_only(self.y[mask]),
            dates=_read_only(self.dates[mask]),
            label_end=_read_only(self.label_end[mask]),
            ticker_codes=_read_only(self.ticker_codes[mask]),
            ticker_names=self.ticker_names,
            feature_names=self.feature_names,
            horizon=self.horizon,
            report=self.report,
        )

    def labeled(self) -> Dataset:
        """Only rows whose label is known."""
        return self.take(self.has_label)

    def latest(self) -> Dataset:
        """Each ticker's newest row (what a prediction today is made from)."""
        last_row = np.full(len(self.ticker_names), -1, dtype=np.int64)
        # Rows are date-ordered, so the last write per ticker wins.
        last_row[self.ticker_codes] = np.arange(len(self))
        mask = np.zeros(len(self), dtype=bool)
        mask[last_row[last_row >= 0]] = True
        return self.take(mask)

    def summary(self) -> dict:
        """Counts, date range and per-feature statistics, for people and for --json."""
        labeled = self.has_label
        stats = {}
        for column, name in enumerate(self.feature_names):
            values = self.X[:, column]
            stats[name] = {
                "mean": float(values.mean()) if len(values) else None,
                "std": float(values.std()) if len(values) else None,
                "min": float(values.min()) if len(values) else None,
                "max": float(values.max()) if len(values) else None,
            }
        return {
            "rows": len(self),
            "labeled_rows": int(labeled.sum()),
            "tickers": len(self.ticker_names),
            "first_date": str(self.dates[0]) if len(self) else None,
            "last_date": str(self.dates[-1]) if len(self) else None,
            "horizon": self.horizon,
            "base_rate": float(self.y[labeled].mean()) if labeled.any() else None,
            "features": stats,
        }


def dataset_from_market(
    market: MarketData, *, horizon: int = 5, features: Sequence[str] = BASE_FEATURES
) -> Dataset:
    """Features and labels for every ticker, from the slowest feature's first value on.

    Warm-up rows are dropped. A feature that is undefined later (volume of an index that
    reports none, the band position of a flat price) stays NaN: the trees treat it as missing.
    """
    features = tuple(features)
    first_row = feature_window(features) - 1
    names = tuple(sorted(market.histories))
    blocks_x, blocks_y, blocks_dates, blocks_end, blocks_code = [], [], [], [], []
    for code, ticker in enumerate(names):
        history = market.histories[ticker]
        matrix = compute_features(history, features)
        complete = np.arange(len(history)) >= first_row
        blocks_x.append(matrix[complete].astype(np.float32))
        blocks_y.append(direction_labels(history.close, horizon)[complete])
        blocks_dates.append(history.dates[complete])
        blocks_end.append(label_end_dates(history.dates, horizon)[complete])
        blocks_code.append(np.full(int(complete.sum()), code, dtype=np.int32))
    if not names:
        empty = np.empty(0)
        return Dataset(
            X=np.empty((0, len(features)), np.float32),
            y=empty.astype(np.float32),
            dates=empty.astype("datetime64[D]"),
            label_end=empty.astype("datetime64[D]"),
            ticker_codes=empty.astype(np.int32),
            ticker_names=(),
            feature_names=features,
            horizon=horizon,
            report=market.report,
        )
    dates = np.concatenate(blocks_dates)
    codes = np.concatenate(blocks_code)
    order = np.lexsort((codes, dates))  # by date, then ticker
    return Dataset(
        X=_read_only(np.concatenate(blocks_x)[order]),
        y=_read_only(np.concatenate(blocks_y)[order]),
        dates=_read_only(dates[order]),
        label_end=_read_only(np.concatenate(blocks_end)[order]),
        ticker_codes=_read_only(codes[order]),
        ticker_names=names,
        feature_names=features,
        horizon=horizon,
        report=market.report,
    )


def build_dataset(
    tickers: Sequence[str] | None = None,
    period: str | None = None,
    *,
    settings: Settings | None = None,
) -> Dataset:
    """Load ``tickers`` over ``period`` from the configured provider and build the model rows.

    The seed's entry point: ``build_dataset(tickers, period="5y")``. ``tickers=None`` means the
    provider's default (every file in a folder, ``market.default_stocks`` otherwise).
    """
    from ..config import get_settings
    from ..data.providers import load_market

    settings = settings or get_settings()
    market = load_market(
        settings,
        tickers=tickers,
        period=period or settings.market.period,
        min_history=feature_window(settings.retraining.features),
    )
    return dataset_from_market(
        market, horizon=settings.retraining.horizon, features=settings.retraining.features
    )
