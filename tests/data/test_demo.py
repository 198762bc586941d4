"""The built-in demo market: deterministic, five-plus years, a regime change."""

from __future__ import annotations

import numpy as np

from tests.conftest import TODAY
from trading_engine.config import DEFAULT_STOCKS
from trading_engine.data import DemoMarket, load_market


def test_same_parameters_same_prices():
    first = DemoMarket(end=str(TODAY)).generate(["A", "B"])
    second = DemoMarket(end=str(TODAY)).generate(["A", "B"])
    other_seed = DemoMarket(end=str(TODAY), seed=8).generate(["A", "B"])
    np.testing.assert_array_equal(first.histories["B"].close, second.histories["B"].close)
    assert not np.allclose(first.histories["B"].close, other_seed.histories["B"].close)


def test_default_demo_is_fifty_tickers_over_five_years_of_business_days(settings):
    market = load_market(settings, period="max", today=TODAY)
    assert market.tickers == sorted(DEFAULT_STOCKS) and len(market.tickers) == 50
    history = market.histories["AAPL"]
    assert len(history) >= 5 * 252
    assert np.is_busday(history.dates).all()
    assert history.dates[-1] == np.datetime64("2026-11-24")
    assert (history.low <= np.minimum(history.open, history.close)).all()
    assert (history.high >= np.maximum(history.open, history.close)).all()


def test_prices_stay_realistic():
    market = DemoMarket(end=str(TODAY)).generate([f"T{i}" for i in range(50)])
    spans = [h.close.max() / h.close.min() for h in market.histories.values()]
    assert max(spans) < 50  # no exploding or vanishing prices


def test_signal_flips_at_the_regime_date():
    """Before the regime date recent gains continue; after it they reverse."""
    demo = DemoMarket(end=str(TODAY))
    market = demo.generate([f"T{i}" for i in range(50)])
    regime = demo.regime_date()
    before, after = [], []
    for history in market.histories.values():
        log_close = np.log(history.close)
        past = log_close[10:-5] - log_close[:-15]
        future = log_close[15:] - log_close[10:-5]
        dates = history.dates[10:-5]
        before.append(np.corrcoef(past[dates < regime], future[dates < regime])[0, 1])
        after.append(np.corrcoef(past[dates > regime], future[dates > regime])[0, 1])
    assert np.mean(before) > 0.2
    assert np.mean(after) < -0.2
