"""load_market: the caller says how much history a ticker needs; data imports no features."""

from __future__ import annotations

from tests.conftest import TODAY, demo_histories, write_market
from tests.helpers import modules_loaded_by
from trading_engine.data import load_market


def test_min_history_plus_horizon_decides_which_tickers_are_too_short(tmp_path, settings):
    histories = demo_histories(n_tickers=1, n_days=300)
    folder = write_market(tmp_path / "m", {"SHORT": histories["T00"].rows(slice(-120, None))})
    assert load_market(settings, folder=folder, today=TODAY).tickers == ["SHORT"]
    assert load_market(settings, folder=folder, today=TODAY, min_history=115).tickers == ["SHORT"]
    market = load_market(settings, folder=folder, today=TODAY, min_history=116)
    assert market.tickers == []
    assert "120 usable row(s), need at least 121" in market.report.findings[0].message()


def test_data_does_not_import_features():
    loaded = modules_loaded_by("import trading_engine.data")
    assert "trading_engine.data.providers" in loaded
    assert not any(name.startswith("trading_engine.features") for name in loaded)
    # Negative control: the check sees the features package when it is imported.
    assert "trading_engine.features" in modules_loaded_by("import trading_engine.features.dataset")
