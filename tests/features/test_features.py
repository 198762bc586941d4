"""Feature values, labels and the dataset the model trains on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TODAY
from trading_engine.data import DemoMarket, MarketData, QualityReport
from trading_engine.features import (
    BASE_FEATURES,
    build_dataset,
    compute_features,
    dataset_from_market,
    direction_labels,
    feature_window,
)


@pytest.fixture(scope="module")
def history():
    return DemoMarket(n_days=500, end=str(TODAY)).generate(["X"]).histories["X"]


def test_base_features_are_the_seeds_nine():
    assert BASE_FEATURES == (
        "SMA50",
        "SMA200",
        "RSI",
        "MACD",
        "BB",
        "Volume_Change",
        "Return_1d",
        "Return_5d",
        "Volatility",
    )
    assert feature_window() == 200


def test_values_match_a_plain_pandas_computation(history):
    features = pd.DataFrame(compute_features(history), columns=BASE_FEATURES)
    close = pd.Series(history.close)
    volume = pd.Series(history.volume)
    returns = close.pct_change()
    expected = {
        "SMA50": close / close.rolling(50).mean() - 1,
        "SMA200": close / close.rolling(200).mean() - 1,
        "Volume_Change": volume / volume.rolling(20).mean() - 1,
        "Return_1d": returns,
        "Return_5d": close / close.shift(5) - 1,
        "Volatility": returns.rolling(20).std(ddof=0),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(features[name], values, rtol=1e-7, err_msg=name)
    mid = close.rolling(20).mean()
    width = 4 * close.rolling(20).std(ddof=0)
    np.testing.assert_allclose(features["BB"], (close - (mid - width / 2)) / width, rtol=1e-6)


def test_features_are_scale_free(history):
    scaled = type(history)(
        history.ticker,
        history.dates,
        history.open * 37,
        history.high * 37,
        history.low * 37,
        history.close * 37,
        history.volume * 5,
    )
    np.testing.assert_allclose(compute_features(scaled), compute_features(history), rtol=1e-6)


def test_labels_look_ahead_horizon_days_and_are_never_filled():
    close = np.array([10.0, 11.0, 9.0, 12.0, 12.0, 8.0])
    labels = direction_labels(close, horizon=2)
    np.testing.assert_array_equal(labels[:4], [0.0, 1.0, 1.0, 0.0])
    assert np.isnan(labels[4:]).all()
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        direction_labels(close, 0)


def test_dataset_rows_types_and_order():
    market = DemoMarket(n_days=400, end=str(TODAY)).generate(["B", "A", "C"])
    dataset = dataset_from_market(market, horizon=5)
    assert dataset.X.dtype == np.float32 and dataset.X.shape == (len(dataset), 9)
    assert dataset.ticker_names == ("A", "B", "C")
    assert len(dataset) == 3 * (400 - 199)  # rows from the slowest feature's first value on
    assert not np.isnan(dataset.X).any()  # warm-up rows are gone
    assert (np.diff(dataset.dates.astype(np.int64)) >= 0).all()  # ordered by date
    assert np.isnan(dataset.y).sum() == 3 * 5  # each ticker's newest 5 rows have no label
    labeled = dataset.labeled()
    assert not np.isnan(labeled.y).any()
    assert (labeled.label_end > labeled.dates).all()
    latest = dataset.latest()
    assert list(latest.tickers) == ["A", "B", "C"] and (latest.dates == dataset.dates[-1]).all()


def test_dataset_is_read_only_and_cannot_be_reordered():
    market = DemoMarket(n_days=300, end=str(TODAY)).generate(["A", "B"])
    dataset = dataset_from_market(market)
    with pytest.raises(ValueError, match="read-only"):
        dataset.X[0, 0] = 1.0
    with pytest.raises(ValueError, match="boolean mask"):
        dataset.take(np.arange(len(dataset))[::-1])


def test_zero_volume_stock_keeps_its_rows():
    """An index file with no volume keeps its rows; the volume feature is missing, not fatal."""
    history = DemoMarket(n_days=300, end=str(TODAY)).generate(["IDX"]).histories["IDX"]
    flat = type(history)(
        "IDX",
        history.dates,
        history.open,
        history.high,
        history.low,
        history.close,
        np.zeros(len(history)),
    )
    dataset = dataset_from_market(MarketData({"IDX": flat}, QualityReport()))
    assert len(dataset) == 300 - 199
    assert np.isnan(dataset.X[:, BASE_FEATURES.index("Volume_Change")]).all()


def test_build_dataset_is_the_seeds_entry_point(settings):
    dataset = build_dataset(["AAPL", "MSFT"], period="2y", settings=settings)
    assert dataset.ticker_names == ("AAPL", "MSFT")
    assert dataset.dates[-1] == np.datetime64("2026-11-24")
    assert dataset.dates[0] >= np.datetime64("2024-11-24")  # two years, less feature warm-up
    assert dataset.feature_names == BASE_FEATURES and dataset.horizon == 5
