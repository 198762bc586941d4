"""The feature catalogue: each feature's name, look-back window and meaning; nothing to compute.

Settings validate feature names and the data layer's callers size histories from this module,
so it imports neither numpy nor TA-Lib. ``indicators.py`` pairs every entry with its
computation (and checks that the two lists agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    """A named feature and how many bars it needs before its first value."""

    name: str
    window: int
    description: str


CATALOGUE: dict[str, FeatureSpec] = {
    spec.name: spec
    for spec in (
        FeatureSpec("SMA50", 50, "close / 50-day simple moving average - 1"),
        FeatureSpec("SMA200", 200, "close / 200-day simple moving average - 1"),
        FeatureSpec("RSI", 15, "14-day relative strength index (0-100)"),
        FeatureSpec("MACD", 34, "MACD line (EMA12 - EMA26) / close"),
        FeatureSpec("BB", 20, "position inside the 20-day 2-sigma Bollinger band (0=low, 1=up)"),
        FeatureSpec("Volume_Change", 20, "volume / 20-day average volume - 1"),
        FeatureSpec("Return_1d", 2, "close / previous close - 1"),
        FeatureSpec("Return_5d", 6, "close / close 5 bars earlier - 1"),
        FeatureSpec("Volatility", 21, "20-day standard deviation of daily returns"),
    )
}

BASE_FEATURES: tuple[str, ...] = tuple(CATALOGUE)


def feature_window(names: Sequence[str] = BASE_FEATURES) -> int:
    """Bars of history the slowest of ``names`` needs before its first value."""
    return max(CATALOGUE[name].window for name in names)
