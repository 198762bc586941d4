"""Splits are by date, with the label horizon and an embargo purged before evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from trading_engine.features.labels import label_end_dates
from trading_engine.training import PurgedWalkForward


def panel(ticker_dates: dict[str, np.ndarray], horizon: int):
    """Rows of several tickers, ordered by date, each with its own label end (gaps included)."""
    dates, ends, names = [], [], []
    for ticker, own in ticker_dates.items():
        dates.append(own)
        ends.append(label_end_dates(own, horizon))
        names += [ticker] * len(own)
    dates, ends, names = np.concatenate(dates), np.concatenate(ends), np.array(names)
    labeled = ~np.isnat(ends)
    order = np.argsort(dates[labeled], kind="stable")
    return dates[labeled][order], ends[labeled][order], names[labeled][order]


def business_days(start: str, count: int) -> np.ndarray:
    return np.busday_offset(start, np.arange(count), roll="forward").astype("datetime64[D]")


def assert_purged(dates, ends, train, test, gap):
    calendar = np.unique(dates)
    first_test = dates[test].min()
    last_train = dates[train].max()
    between = calendar[(calendar > last_train) & (calendar < first_test)]
    assert len(between) >= gap, (last_train, first_test)
    assert (ends[train] < first_test).all(), "a training label looks into the evaluation block"
    assert dates[train].max() < dates[test].min()


def test_holdout_is_the_newest_dates_after_an_exact_gap():
    dates, ends, _ = panel({"A": business_days("2024-01-01", 100)}, horizon=2)
    splitter = PurgedWalkForward(n_splits=2, horizon=2, embargo=1, holdout_days=10)
    develop, holdout = splitter.holdout_split(dates, ends)
    calendar = np.unique(dates)
    np.testing.assert_array_equal(np.unique(dates[holdout]), calendar[-10:])
    # 98 labelled dates; holdout starts at index 88; gap 3 -> last training date index 84
    assert dates[develop].max() == calendar[88 - 1 - 3]
    assert splitter.gap == 3


def test_walk_forward_folds_expand_and_purge():
    dates, ends, _ = panel({"A": business_days("2024-01-01", 130)}, horizon=5)
    splitter = PurgedWalkForward(n_splits=4, horizon=5, embargo=5, holdout_days=20)
    develop, _ = splitter.holdout_split(dates, ends)
    folds = list(splitter.split(dates[develop], ends[develop]))
    assert len(folds) == 4
    previous_train = 0
    for train, test in folds:
        assert_purged(dates[develop], ends[develop], train, test, gap=10)
        assert len(train) > previous_train  # expanding
        previous_train = len(train)
    tests = np.concatenate([test for _, test in folds])
    assert len(np.unique(tests)) == len(tests)  # test blocks never overlap


def test_tickers_with_gaps_and_different_starts_are_purged_by_their_own_label_end():
    calendar = business_days("2024-01-01", 120)
    gappy = np.delete(calendar, np.arange(40, 60))  # B stops trading for 20 days
    late = calendar[30:]  # C starts a month later
    dates, ends, names = panel({"A": calendar, "B": gappy, "C": late}, horizon=3)
    splitter = PurgedWalkForward(n_splits=3, horizon=3, embargo=2, holdout_days=15)
    develop, holdout = splitter.holdout_split(dates, ends)
    assert_purged(dates, ends, develop, holdout, gap=5)
    for train, test in splitter.split(dates[develop], ends[develop]):
        assert_purged(dates[develop], ends[develop], train, test, gap=5)
    # B's rows just before its gap have labels that end after it; they must be purged from any
    # fold evaluated inside the gap.
    b_before_gap = (names == "B") & (dates == calendar[39])
    assert ends[b_before_gap][0] == calendar[62]


def test_sliding_window_caps_training_dates():
    dates, ends, _ = panel({"A": business_days("2024-01-01", 200)}, horizon=1)
    splitter = PurgedWalkForward(
        n_splits=3, horizon=1, embargo=0, holdout_days=20, window="sliding", max_train_days=30
    )
    develop, _ = splitter.holdout_split(dates, ends)
    for train, _ in splitter.split(dates[develop], ends[develop]):
        assert len(np.unique(dates[develop][train])) <= 30


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"n_splits": 0},
            "The 'n_splits' parameter of PurgedWalkForward must be an int >= 1. Got 0",
        ),
        ({"horizon": -1}, "'horizon' parameter"),
        ({"embargo": -2}, "'embargo' parameter"),
        ({"window": "random"}, "must be 'expanding' or 'sliding'. Got 'random'"),
        ({"window": "sliding"}, "'max_train_days' parameter"),
    ],
)
def test_bad_parameters_say_what_was_expected(arguments, message):
    with pytest.raises(ValueError, match=message):
        PurgedWalkForward(**arguments)


def test_too_short_history_is_a_clear_error():
    dates, ends, _ = panel({"A": business_days("2024-01-01", 50)}, horizon=5)
    with pytest.raises(ValueError, match="cannot hold a 63-day holdout after a 10-day purge gap"):
        PurgedWalkForward().holdout_split(dates, ends)
