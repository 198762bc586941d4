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


def test_signal_switches_form_at_every_regime_change():
    """In trend regimes recent gains continue; in reversal regimes they are given back."""
    demo = DemoMarket(end=str(TODAY))
    market = demo.generate([f"T{i}" for i in range(50)])
    regimes = [r for r in demo.regimes() if r.start >= market.histories["T0"].dates[0]]
    ends = [r.start for r in regimes[1:]] + [np.datetime64("2100-01-01")]
    assert len(regimes) >= 4  # a change every 12-18 months
    for regime, end in zip(regimes, ends, strict=True):
        correlations = []
        for history in market.histories.values():
            log_close = np.log(history.close)
            past = log_close[10:-5] - log_close[:-15]
            future = log_close[15:] - log_close[10:-5]
            inside = (history.dates[10:-5] >= regime.start) & (history.dates[10:-5] < end)
            correlations.append(np.corrcoef(past[inside], future[inside])[0, 1])
        if regime.form == "trend":
            assert np.mean(correlations) > 0.2, regime
        else:
            assert np.mean(correlations) < -0.2, regime


def test_regime_changes_recur_every_12_to_18_months():
    starts = np.array([r.start for r in DemoMarket(end=str(TODAY)).regimes()])
    gaps = np.busday_count(starts[1:-1], starts[2:])
    assert (gaps >= 252).all() and (gaps <= 378).all()
    assert [r.form for r in DemoMarket(end=str(TODAY)).regimes()][:3] == [
        "trend",
        "reversal",
        "trend",
    ]


def test_bars_of_a_date_do_not_depend_on_the_day_the_market_is_generated():
    tickers = [f"T{i}" for i in range(5)]
    later = DemoMarket(n_days=1512, end=str(TODAY)).generate(tickers)
    earlier = DemoMarket(n_days=400, end="2024-03-15").generate(tickers)
    one_day_more = DemoMarket(n_days=1513, end="2026-11-25").generate(tickers)
    for ticker in tickers:
        old, new = earlier.histories[ticker], later.histories[ticker]
        start = int(np.searchsorted(new.dates, old.dates[0]))
        for column in ("dates", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(
                getattr(new, column)[start : start + len(old)], getattr(old, column)
            )
        grown = one_day_more.histories[ticker]
        np.testing.assert_array_equal(grown.close[:-1], new.close)
        assert grown.dates[-1] == np.datetime64("2026-11-25")
    assert (
        DemoMarket(end="2024-03-15").regimes()
        == DemoMarket(end=str(TODAY)).regimes()[: len(DemoMarket(end="2024-03-15").regimes())]
    )


def test_the_clock_extends_the_market_to_today():
    demo = DemoMarket(n_days=300)
    market = demo.generate(["A"], today=np.datetime64("2026-11-28"))  # a Saturday
    assert market.histories["A"].dates[-1] == np.datetime64("2026-11-27")
