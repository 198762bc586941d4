"""Predictions from the production model on each ticker's latest features (cached)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Settings
from .data import MarketData, load_market
from .errors import DataError
from .features.indicators import compute_features, feature_window
from .registry import StoredModel


class UnknownTickers(DataError):
    """Tickers the configured market data does not have."""


@dataclass(frozen=True)
class LatestFeatures:
    """Each ticker's newest row of features, for one feature list."""

    feature_names: tuple[str, ...]
    rows: dict[str, tuple[np.datetime64, np.ndarray]]  # ticker -> (as-of date, features)
    loaded_at: float


def latest_features(market: MarketData, feature_names: Sequence[str]) -> dict[str, tuple]:
    """Features of each ticker's last bar only (the tail window is all a feature needs)."""
    tail = feature_window(feature_names) * 3  # EMAs settle well within three windows
    rows = {}
    for ticker, history in market.histories.items():
        recent = history.rows(slice(max(0, len(history) - tail), None))
        rows[ticker] = (history.dates[-1], compute_features(recent, feature_names)[-1])
    return rows


class Predictor:
    """Serves probabilities of an up-move; features are recomputed at most every ``ttl`` s."""

    def __init__(
        self,
        settings: Settings,
        model: Callable[[], StoredModel | None],
        *,
        ttl_seconds: float = 300.0,
        load: Callable[[Settings], MarketData] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.ttl_seconds = ttl_seconds
        self._load = load or (lambda s: load_market(s))
        self._cache: LatestFeatures | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._cache = None

    def _fresh(self, names: tuple[str, ...]) -> LatestFeatures | None:
        cache = self._cache
        current = cache is not None and cache.feature_names == names
        if current and time.monotonic() - cache.loaded_at < self.ttl_seconds:
            return cache
        return None

    def _features(self, names: tuple[str, ...]) -> LatestFeatures:
        if cached := self._fresh(names):
            return cached
        with self._lock:  # one reload at a time; the others wait, then reuse it
            if cached := self._fresh(names):
                return cached
            market = self._load(self.settings)
            self._cache = LatestFeatures(names, latest_features(market, names), time.monotonic())
            return self._cache

    def predict(self, tickers: Sequence[str]) -> list[dict[str, Any]]:
        stored = self.model()
        if stored is None:
            raise LookupError("no production model yet; run a retrain first")
        wanted = [t.strip().upper() for t in tickers]
        latest = self._features(tuple(stored.model.feature_names))
        unknown = [t for t in wanted if t not in latest.rows]
        if unknown:
            known = ", ".join(sorted(latest.rows)[:10])
            raise UnknownTickers(
                f"unknown ticker(s): {', '.join(unknown)} (known include: {known})"
            )
        X = np.vstack([latest.rows[t][1] for t in wanted]).astype(np.float32)
        probability = stored.model.predict_proba(X)
        return [
            {
                "ticker": ticker,
                "probability_up": float(p),
                "direction": "up" if p > 0.5 else "down",
                "as_of": str(latest.rows[ticker][0]),
                "horizon_days": stored.model.horizon,
                "model_version": stored.version,
            }
            for ticker, p in zip(wanted, probability, strict=True)
        ]
