"""Features at date t use bars up to t only: recomputed on histories cut at t, they agree."""

from __future__ import annotations

import numpy as np

from trading_engine.data import DemoMarket
from trading_engine.features import FEATURES
from trading_engine.features.indicators import Feature
from trading_engine.features.point_in_time import find_lookahead


def _cut_dates(dates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Every one of the last 250 days, plus 40 random earlier days (warm-up included).
    earlier = rng.choice(dates[:-250], size=40, replace=False)
    return np.concatenate([earlier, dates[-250:]])


def test_every_feature_of_every_ticker_is_point_in_time():
    market = DemoMarket(n_days=900, end="2026-11-24", seed=11).generate(
        [f"T{i:02d}" for i in range(20)]
    )
    rng = np.random.default_rng(0)
    for history in market.histories.values():
        assert find_lookahead(history, _cut_dates(history.dates, rng)) == []


def test_a_feature_that_peeks_at_tomorrow_is_caught(monkeypatch):
    def tomorrows_return(history):
        future = np.full(len(history), np.nan)
        future[:-1] = history.close[1:] / history.close[:-1] - 1.0
        return future

    leak = Feature("Tomorrow", 1, "next day's return (a deliberate leak)", tomorrows_return)
    monkeypatch.setitem(FEATURES, "Tomorrow", leak)
    history = DemoMarket(n_days=400, end="2026-11-24").generate(["LEAK"]).histories["LEAK"]
    problems = find_lookahead(history, history.dates[-20:], names=("RSI", "Tomorrow"))
    assert problems, "a look-ahead feature went unnoticed"
    assert {p.feature for p in problems} == {"Tomorrow"}
    # The leak shows at the last row of each cut, where tomorrow is not yet known.
    assert all(p.date == p.cut for p in problems)
