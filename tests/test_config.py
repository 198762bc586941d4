"""Settings: defaults < TOML file < environment, and one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import modules_loaded_by, run_cli
from trading_engine.config import load_settings
from trading_engine.errors import ConfigError


def test_defaults_follow_the_seed(settings):
    assert settings.market.period == "5y"
    assert len(settings.market.default_stocks) == 50
    assert settings.data.provider == "demo"
    assert settings.retraining.min_f1_score == 0.65
    assert settings.retraining.min_accuracy == 0.70
    assert settings.retraining.max_performance_drop == 0.10
    assert settings.paths.models_dir.name == "models"


def test_toml_file_then_environment_override(tmp_path, monkeypatch, settings):
    (tmp_path / "trading-engine.toml").write_text(
        '[market]\nperiod = "3y"\n[data]\nprovider = "csv"\nfolder = "market"\nmin_tickers = 4\n'
    )
    loaded = load_settings()
    assert loaded.market.period == "3y" and loaded.data.min_tickers == 4
    assert loaded.data.folder == Path("market")
    monkeypatch.setenv("TRADING_ENGINE_MARKET__PERIOD", "2y")
    assert load_settings().market.period == "2y"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRADING_ENGINE_MARKET__PERIOD", "five years", "setting 'market.period'"),
        ("TRADING_ENGINE_DATA__PROVIDER", "bloomberg", "setting 'data.provider'"),
        ("TRADING_ENGINE_DATA__PROVIDER", "csv", "needs data.folder to be set"),
        ("TRADING_ENGINE_RETRAINING__HORIZON", "0", "setting 'retraining.horizon'"),
        ("TRADING_ENGINE_RETRAINING__FEATURES", '["RSI", "Magic"]', "unknown feature(s) ['Magic']"),
    ],
)
def test_bad_value_is_one_line_naming_the_setting(monkeypatch, settings, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=None) as caught:
        load_settings()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_bad_setting_through_the_cli_exits_2_without_traceback():
    result = run_cli("data", "check", env={"TRADING_ENGINE_MARKET__PERIOD": "forever"})
    assert result.returncode == 2
    assert "setting 'market.period'" in result.stderr and "Traceback" not in result.stderr


def test_settings_do_not_import_talib():
    loaded = modules_loaded_by("import trading_engine.config")
    assert "trading_engine.features.catalogue" in loaded
    assert "talib" not in loaded and "numpy" not in loaded
    # Negative control: the check sees TA-Lib when the computations are imported.
    assert "talib" in modules_loaded_by("import trading_engine.features.indicators")
