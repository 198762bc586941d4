"""The catalogue (names, windows) and the computations (indicators) describe the same features."""

from __future__ import annotations

from trading_engine.features.catalogue import BASE_FEATURES, CATALOGUE, feature_window
from trading_engine.features.indicators import FEATURES


def test_every_catalogued_feature_has_a_computation_and_no_other():
    assert list(FEATURES) == list(CATALOGUE)
    for name, feature in FEATURES.items():
        assert (feature.window, feature.description) == (
            CATALOGUE[name].window,
            CATALOGUE[name].description,
        )


def test_the_window_is_the_slowest_features():
    assert feature_window(BASE_FEATURES) == 200
    assert feature_window(("RSI", "Return_5d")) == 15
