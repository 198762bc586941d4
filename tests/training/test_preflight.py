"""The pre-flight check: its arithmetic is the splitter's own, its message one line with the fix."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TODAY, demo_histories
from trading_engine.config import load_settings
from trading_engine.data import MarketData, QualityReport
from trading_engine.features import dataset_from_market
from trading_engine.training import PurgedWalkForward
from trading_engine.training.preflight import (
    fits,
    labelled_calendar,
    needed_dates,
    preflight,
    preflight_market,
)
from trading_engine.training.trainer import splitter_from

DEFAULTS = load_settings().retraining


def retraining(**changes):
    return DEFAULTS.model_copy(update=changes)


def splitter_accepts(n_dates: int, settings) -> bool:
    """Run the real splits on ``n_dates`` labelled dates of one ticker: do they all pass?"""
    calendar = np.busday_offset("2020-01-01", np.arange(n_dates + settings.horizon), "forward")
    dates = calendar[:n_dates].astype("datetime64[D]")
    label_end = calendar[settings.horizon :].astype("datetime64[D]")
    splitter: PurgedWalkForward = splitter_from(settings)
    try:
        develop, _ = splitter.holdout_split(dates, label_end)
        for train, _ in splitter.split(dates[develop], label_end[develop]):
            splitter.inner_validation(
                dates[develop][train], label_end[develop][train], settings.early_stopping_days
            )
    except ValueError:
        return False
    return True


def test_the_defaults_fit_exactly_at_212_dates_and_not_one_date_short():
    assert needed_dates(DEFAULTS) == 212
    exact = preflight(212, DEFAULTS)
    assert exact.fits and exact.problem is None
    assert exact.summary.startswith("212 labelled trading dates (after SMA200's 199-bar warm-up")
    short = preflight(211, DEFAULTS)
    assert not short.fits and short.needed == 212
    assert "\n" not in short.problem
    assert short.problem == (
        "211 labelled trading dates (after SMA200's 199-bar warm-up and the 5-day horizon) "
        "cannot hold a 63-day holdout + 10-day purge + 5 walk-forward folds of 23 days + 10-day "
        "purge + 14 days of first training (early stopping included) = 212: lower "
        "retraining.holdout_days (to 62) or retraining.n_splits (to 4), or drop SMA200 from "
        "retraining.features (+150 dates), or load 1 more trading date of history"
    )
    assert (splitter_accepts(212, DEFAULTS), splitter_accepts(211, DEFAULTS)) == (True, False)


def test_every_remedy_it_names_makes_the_dates_fit():
    assert not fits(211, DEFAULTS)
    assert fits(211, retraining(holdout_days=62))
    assert fits(211, retraining(n_splits=4))
    assert fits(211 + 150, retraining(features=("SMA50", "RSI", "MACD")))
    assert splitter_accepts(211, retraining(holdout_days=62))
    assert splitter_accepts(211, retraining(n_splits=4))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"horizon": 1, "embargo_days": 0, "holdout_days": 5, "n_splits": 2},
        {
            "horizon": 3,
            "embargo_days": 1,
            "holdout_days": 7,
            "n_splits": 4,
            "early_stopping_days": 5,
        },
        {"horizon": 2, "n_splits": 7, "early_stopping_days": 40},
        {"window": "sliding", "max_train_days": 20},
        {"window": "sliding", "max_train_days": 20, "horizon": 10},  # never fits
    ],
)
def test_agrees_with_the_real_splitter_date_by_date(changes):
    settings = retraining(**changes)
    needed = needed_dates(settings)
    top = (needed or 300) + 3 * (settings.n_splits + 1) + 5
    for n in range(top):
        assert fits(n, settings) == splitter_accepts(n, settings), n
    if needed is not None:
        assert not splitter_accepts(needed - 1, settings)
        assert all(splitter_accepts(n, settings) for n in range(needed, top))
    else:
        assert not any(splitter_accepts(n, settings) for n in range(top))


def test_a_sliding_window_smaller_than_the_first_fold_never_fits_and_says_what_to_raise():
    report = preflight(5000, retraining(window="sliding", max_train_days=20, horizon=10))
    assert not report.fits and report.needed is None
    assert (
        "cannot hold the first fold's 27 training dates (early stopping included) in a sliding "
        "window of 20 days: " in report.problem
    )
    assert report.problem.endswith("raise retraining.max_train_days to at least 27")


def test_the_report_says_how_many_bars_the_longest_feature_used():
    """The issue: nobody said that the 200-day SMA used 200 of the 245 bars."""
    histories = demo_histories(n_tickers=3, n_days=245)
    report = preflight_market(MarketData(histories, QualityReport()), DEFAULTS)
    dates = next(iter(histories.values())).dates
    assert (report.labelled_dates, report.bars) == (41, 245)
    assert (report.first_date, report.last_date) == (str(dates[199]), str(dates[-6]))
    assert report.problem.startswith(
        f"41 labelled trading dates ({dates[199]}..{dates[-6]}: of 245 bars, 199 are SMA200's "
        "warm-up and 5 wait for the 5-day horizon) cannot hold a 63-day holdout"
    )
    assert report.problem.endswith("= 212: load 171 more trading dates of history")
    assert report.to_json()["fits"] is False


def test_labelled_dates_are_the_datasets_without_computing_features():
    histories = demo_histories(n_tickers=3, n_days=400)
    _, second, third = histories
    histories[second] = histories[second].rows(slice(30, None))  # starts later
    keep = np.ones(400, dtype=bool)
    keep[250:260] = False  # a gap
    histories[third] = histories[third].rows(keep)
    market = MarketData(histories, QualityReport())
    dates, bars = labelled_calendar(market, DEFAULTS)
    dataset = dataset_from_market(market)
    np.testing.assert_array_equal(dates, np.unique(dataset.labeled().dates))
    assert bars == 400 and dates[-1] < TODAY
