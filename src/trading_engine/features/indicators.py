"""The computations of the named features (their names and windows: ``catalogue.py``).

Every feature is scale-free (a ratio, a return, an oscillator), so one model serves tickers
priced at $5 and at $500. Each is computed from a ticker's own history with TA-Lib or numpy,
and the value at row t uses bars up to t only: ``tests/features/test_point_in_time.py`` proves
it by recomputing on histories cut at many dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._imports import import_hiding
from ..data.market import PriceHistory
from .catalogue import BASE_FEATURES, CATALOGUE, feature_window

# TA-Lib would import pandas and polars (0.2 s) to accept their series; it gets numpy arrays.
talib = import_hiding("talib", ("pandas", "polars"))

__all__ = ["BASE_FEATURES", "FEATURES", "Feature", "compute_features", "feature_window"]


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


_COMPUTE: dict[str, Callable[[PriceHistory], np.ndarray]] = {
    "SMA50": _ratio_to_sma(50),
    "SMA200": _ratio_to_sma(200),
    "RSI": _rsi,
    "MACD": _macd,
    "BB": _bollinger_position,
    "Volume_Change": _volume_change,
    "Return_1d": _return(1),
    "Return_5d": _return(5),
    "Volatility": _volatility,
}

FEATURES: dict[str, Feature] = {
    name: Feature(name, spec.window, spec.description, _COMPUTE[name])
    for name, spec in CATALOGUE.items()
}


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
