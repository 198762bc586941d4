"""Settings: defaults < TOML file < environment, and one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import modules_loaded_by, run_cli
from trading_engine.config import Settings, load_settings
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


TOML_FAULTS = {
    "top-level typo": (
        "[retrainin]\nhorizon = 4\n",
        "trading-engine.toml: no setting 'retrainin' (value {'horizon': 4}); "
        "did you mean 'retraining'?",
    ),
    "typo in a section": (
        "[retraining]\nmin_f1 = 0.5\n",
        "trading-engine.toml: no setting 'retraining.min_f1' (value 0.5); "
        "did you mean 'retraining.min_f1_score'?",
    ),
    "typo in a nested section": (
        "[retraining.schedule]\ndayly_hour = 4\n",
        "trading-engine.toml: no setting 'retraining.schedule.dayly_hour' (value 4); "
        "did you mean 'retraining.schedule.daily_hour'?",
    ),
    "unknown key, nothing close": (
        "[market]\nzzz = 1\n",
        "trading-engine.toml: no setting 'market.zzz' (value 1); "
        "expected one of the settings of [market]: default_stocks, period",
    ),
    "bad value": (
        '[market]\nperiod = "forever"\n',
        "trading-engine.toml: setting 'market.period' = 'forever': "
        "expected a period like 5y, 60mo, 52wk, 1260d or max",
    ),
    "check across a section": (
        '[retraining]\nwindow = "sliding"\n',
        "trading-engine.toml: setting 'retraining.window' = 'sliding': "
        "needs retraining.max_train_days to be set",
    ),
    "syntax error": (
        '[market]\nperiod = "3y"\n[data\nprovider = "csv"\n',
        "trading-engine.toml: not valid TOML: "
        "Expected ']' at the end of a table declaration (at line 3, column 6)",
    ),
}


@pytest.mark.parametrize("fault", TOML_FAULTS)
def test_toml_faults_are_one_line_naming_file_setting_and_value(settings, fault):
    text, message = TOML_FAULTS[fault]
    Path("trading-engine.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message


ENV_FAULTS = {
    "TRADING_ENGINE_DATA__PROVDER": (
        "csv",
        "environment variable TRADING_ENGINE_DATA__PROVDER: no setting 'data.provder' "
        "(value 'csv'); did you mean TRADING_ENGINE_DATA__PROVIDER?",
    ),
    "TRADING_ENGINE_DATA_PROVIDER": (
        "csv",
        "environment variable TRADING_ENGINE_DATA_PROVIDER: no setting 'data_provider' "
        "(value 'csv'); did you mean TRADING_ENGINE_DATA__PROVIDER?",
    ),
    "TRADING_ENGINE_RETRAINING__SCHEDULE__DAYLY_HOUR": (
        "4",
        "environment variable TRADING_ENGINE_RETRAINING__SCHEDULE__DAYLY_HOUR: no setting "
        "'retraining.schedule.dayly_hour' (value '4'); "
        "did you mean TRADING_ENGINE_RETRAINING__SCHEDULE__DAILY_HOUR?",
    ),
    "TRADING_ENGINE_FOO": (
        "1",
        "environment variable TRADING_ENGINE_FOO: no setting 'foo' (value '1'); "
        "expected TRADING_ENGINE_<SECTION>__<NAME>, e.g. TRADING_ENGINE_MARKET__PERIOD",
    ),
    "TRADING_ENGINE_RETRAINING__HORIZON": (
        "0",
        "environment variable TRADING_ENGINE_RETRAINING__HORIZON: setting "
        "'retraining.horizon' = '0': expected greater than or equal to 1",
    ),
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": (
        '["AAPL",',
        "environment variable TRADING_ENGINE_MARKET__DEFAULT_STOCKS: setting "
        "'market.default_stocks' = '[\"AAPL\",': "
        'expected a comma list like AAPL,MSFT or a JSON list like ["AAPL", "MSFT"]',
    ),
    "TRADING_ENGINE_RETRAINING__SCHEDULE": (
        "4",
        "environment variable TRADING_ENGINE_RETRAINING__SCHEDULE: setting "
        "'retraining.schedule' = '4': expected a JSON object of its settings, "
        'e.g. {"name": value}',
    ),
    "TRADING_ENGINE_SERVER__API_TOKN": (  # a misspelt secret is not echoed
        "s3cret",
        "environment variable TRADING_ENGINE_SERVER__API_TOKN: no setting 'server.api_tokn' "
        "(value '***'); did you mean TRADING_ENGINE_SERVER__API_TOKEN?",
    ),
}


@pytest.mark.parametrize("variable", ENV_FAULTS)
def test_environment_faults_are_one_line_naming_variable_setting_and_value(
    monkeypatch, settings, variable
):
    value, message = ENV_FAULTS[variable]
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_a_misspelt_variable_is_refused_even_without_load_settings(monkeypatch, settings):
    monkeypatch.setenv("TRADING_ENGINE_DATA__PROVDER", "csv")
    with pytest.raises(ConfigError, match="did you mean TRADING_ENGINE_DATA__PROVIDER"):
        Settings()


def test_the_environment_wins_and_is_named_over_the_file(monkeypatch, settings):
    Path("trading-engine.toml").write_text("[retraining]\nhorizon = 3\n")
    monkeypatch.setenv("TRADING_ENGINE_RETRAINING__HORIZON", "99")
    with pytest.raises(ConfigError, match=r"^environment variable TRADING_ENGINE_RETRAINING__HOR"):
        load_settings()


def test_config_variable_names_the_file_and_is_not_a_misspelt_setting(
    tmp_path, monkeypatch, settings
):
    custom = tmp_path / "elsewhere.toml"
    custom.write_text("[retraining.schedule]\ndaily_hour = 4\n")
    monkeypatch.setenv("TRADING_ENGINE_CONFIG", str(custom))
    assert load_settings().retraining.schedule.daily_hour == 4
    custom.write_text("[retraining.schedule]\ndaily_hour = 24\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"{custom}: setting 'retraining.schedule.daily_hour' = 24: "
        "expected less than or equal to 23"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TRADING_ENGINE_MARKET__DEFAULT_STOCKS", "AAPL,msft", ("AAPL", "MSFT")),
        ("TRADING_ENGINE_MARKET__DEFAULT_STOCKS", " AAPL , MSFT ", ("AAPL", "MSFT")),
        ("TRADING_ENGINE_MARKET__DEFAULT_STOCKS", '["AAPL","MSFT"]', ("AAPL", "MSFT")),
        ("TRADING_ENGINE_MARKET__DEFAULT_STOCKS", "BRK-B", ("BRK-B",)),
        ("TRADING_ENGINE_RETRAINING__FEATURES", "RSI,MACD", ("RSI", "MACD")),
        ("TRADING_ENGINE_RETRAINING__FEATURES", '["RSI", "MACD"]', ("RSI", "MACD")),
    ],
)
def test_list_settings_take_a_comma_list_or_json(monkeypatch, settings, variable, value, expected):
    monkeypatch.setenv(variable, value)
    section, name = variable.removeprefix("TRADING_ENGINE_").lower().split("__")
    assert getattr(getattr(load_settings(), section), name) == expected


def test_a_misspelt_variable_through_the_cli_exits_2_with_the_suggestion():
    result = run_cli("data", "check", env={"TRADING_ENGINE_DATA_PROVIDER": "csv"})
    assert result.returncode == 2
    assert "did you mean TRADING_ENGINE_DATA__PROVIDER?" in result.stderr
    assert "Traceback" not in result.stderr


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
