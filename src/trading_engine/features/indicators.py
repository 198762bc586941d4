"""The registry of named features.

Every feature is scale-free (a ratio, a return, an oscillator), so one model serves tickers
priced at $5 and at $500. Each is computed from a ticker's own history with TA-Lib or numpy,
and the value at row t uses bars up to t only: ``tests/features/test_point_in_time.py`` proves
it by recomputing on histories cut at many dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import talib

from ..data.market import PriceHistory


@dataclass(frozen=True)
class Feature:
    """A named feature: how to compute it and how many bars it needs before it is defined."""

    name: str
    window: int
    description: str
    compute: Callable[[PriceHistory], np.ndarray]


def _ratio_to_sma(period: int) -> Callable[[PriceHistory], np.ndarray]:
    def compute(history: PriceHistory) -> np.ndarray:
        return history.close / talib.SMA(history.close, timeperiod=period) - 1.0

    return compute


def _rsi(history: PriceHistory) -> np.ndarray:
    return talib.RSI(history.close, timeperiod=14)


def _macd(history: PriceHistory) -> np.ndarray:
    macd_line, _, _ = talib.MACD(history.close, fastperiod=12, slowperiod=26, signalperiod=9)
    return macd_line / history.close


def _bollinger_position(history: PriceHistory) -> np.ndarray:
    upper, _, lower = talib.BBANDS(history.close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        # A flat price has zero band width; its position is undefined, not infinite.
        return np.where(width > 0, (history.close - lower) / width, np.nan)


def _volume_change(history: PriceHistory) -> np.ndarray:
    average = talib.SMA(history.volume, timeperiod=20)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(average > 0, history.volume / average - 1.0, np.nan)


def _return(periods: int) -> Callable[[PriceHistory], np.ndarray]:
    def compute(history: PriceHistory) -> np.ndarray:
        return talib.ROCR(history.close, timeperiod=periods) - 1.0

    return compute


def _volatility(history: PriceHistory) -> np.ndarray:
    daily = talib.ROCR(history.close, timeperiod=1) - 1.0
    return talib.STDDEV(daily, timeperiod=20, nbdev=1.0)


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("SMA50", 50, "close / 50-day simple moving average - 1", _ratio_to_sma(50)),
        Feature("SMA200", 200, "close / 200-day simple moving average - 1", _ratio_to_sma(200)),
        Feature("RSI", 15, "14-day relative strength index (0-100)", _rsi),
        Feature("MACD", 34, "MACD line (EMA12 - EMA26) / close", _macd),
        Feature(
            "BB",
            20,
            "position inside the 20-day 2-sigma Bollinger band (0=low, 1=up)",
            _bollinger_position,
        ),
        Feature("Volume_Change", 20, "volume / 20-day average volume - 1", _volume_change),
        Feature("Return_1d", 2, "close / previous close - 1", _return(1)),
        Feature("Return_5d", 6, "close / close 5 bars earlier - 1", _return(5)),
        Feature("Volatility", 21, "20-day standard deviation of daily returns", _volatility),
    )
}

BASE_FEATURES: tuple[str, ...] = tuple(FEATURES)


def feature_window(names: Sequence[str] = BASE_FEATURES) -> int:
    """Bars of history the slowest of ``names`` needs before its first value."""
    return max(FEATURES[name].window for name in names)


def compute_features(history: PriceHistory, names: Sequence[str] = BASE_FEATURES) -> np.ndarray:
    """A (rows, features) float64 matrix for one ticker; NaN where a feature is not yet defined."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise KeyError(f"unknown feature(s) {unknown}; known: {', '.join(FEATURES)}")
    matrix = np.empty((len(history), len(names)), dtype=np.float64)
    for column, name in enumerate(names):
        matrix[:, column] = FEATURES[name].compute(history)
    # Inf can only come from degenerate input (zero prices are rejected upstream); keep it out.
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix
