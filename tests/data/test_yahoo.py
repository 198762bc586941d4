"""The yfinance provider, replayed offline on a frame in yfinance.download's exact layout.

The stored frame (fixtures/yfinance_download.parquet) has the layout yfinance 0.2.5x+ returns
for ``download([...], group_by="column", multi_level_index=True)``: columns (Price, Ticker) with
fields Close/High/Low/Open/Volume, a tz-naive index named Date, and a failed ticker (ZZZZ) as an
all-NaN block. Its prices come from the demo generator, since tests have no network.
"""

from __future__ import annotations

import socket
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import demo_histories
from tests.helpers import run_cli
from trading_engine.config import load_settings
from trading_engine.data.yahoo import YahooProvider, split_download
from trading_engine.errors import ProviderError

RECORDED = pd.read_parquet(Path(__file__).parent / "fixtures" / "yfinance_download.parquet")
TICKERS = ["AAPL", "MSFT", "NVDA", "ZZZZ"]


def test_split_download_gives_one_clean_frame_per_ticker():
    frames = split_download(RECORDED, TICKERS)
    assert sorted(frames) == ["AAPL", "MSFT", "NVDA"]
    aapl = frames["AAPL"]
    assert list(aapl.columns) == ["date", "close", "high", "low", "open", "volume"]
    assert len(aapl) == len(RECORDED)
    assert aapl["close"].iloc[-1] == RECORDED[("Close", "AAPL")].iloc[-1]


def test_provider_names_the_tickers_that_failed():
    provider = YahooProvider(download=lambda tickers, period: RECORDED)
    histories, findings = provider.load(TICKERS, period="1y", min_rows=205)
    assert sorted(histories) == ["AAPL", "MSFT", "NVDA"]
    failed = [f for f in findings if f.problem == "download_failed"]
    assert [f.source for f in failed] == ["ZZZZ"]


def test_single_ticker_flat_frame():
    flat = RECORDED.xs("MSFT", axis=1, level="Ticker")
    provider = YahooProvider(download=lambda tickers, period: flat)
    histories, _ = provider.load(["msft"], period="1y", min_rows=205)
    assert list(histories) == ["MSFT"]


def test_download_error_names_the_tickers():
    def broken(tickers, period):
        raise ValueError("Expecting value: line 1 column 1 (char 0)")

    with pytest.raises(ProviderError, match="yfinance download failed for AAPL, MSFT: Expecting"):
        YahooProvider(download=broken).load(["AAPL", "MSFT"], period="5y", min_rows=205)


def test_no_connection_says_yahoo_could_not_be_reached():
    def offline(tickers, period):
        raise ConnectionError("network unreachable")

    with pytest.raises(ProviderError) as caught:
        YahooProvider(download=offline).load(["AAPL", "MSFT"], period="5y", min_rows=205)
    assert str(caught.value) == (
        "Yahoo Finance could not be reached (no network?) for AAPL, MSFT: network unreachable"
    )


def test_nothing_returned_is_an_error_naming_every_ticker():
    empty = YahooProvider(download=lambda tickers, period: pd.DataFrame())
    with pytest.raises(ProviderError, match="no data for any ticker: AAPL, MSFT"):
        empty.load(["AAPL", "MSFT"], period="5y", min_rows=205)


# -- the real yfinance with the network made unreachable ---------------------------------------
# Every proxy variable points at a port nobody listens on, so each connection is refused at
# once: the library, its HTTP client and our handling run for real, nothing leaves the machine.


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offline_environment(tmp_path) -> dict[str, str]:
    proxy = f"http://127.0.0.1:{closed_port()}"
    names = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    return {
        **{name: proxy for name in names},
        **{name.lower(): proxy for name in names},
        "NO_PROXY": "",
        "no_proxy": "",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # yfinance's own caches
    }


YFINANCE = {"DATA__PROVIDER": "yfinance", "MARKET__DEFAULT_STOCKS": "AAPL,MSFT"}


def test_without_network_data_check_fails_in_one_line(tmp_path):
    environment = offline_environment(tmp_path)
    environment.update({f"TRADING_ENGINE_{name}": value for name, value in YFINANCE.items()})
    result = run_cli("data", "check", env=environment, cwd=tmp_path, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr  # no log records, no warnings
    assert result.stderr.startswith(
        "error: Yahoo Finance could not be reached (no network?) for AAPL, MSFT: "
    )


def test_without_network_it_fails_within_seconds_and_quietly(cli_run, tmp_path, monkeypatch):
    for name, value in offline_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    import yfinance  # noqa: F401 -- imported before the clock starts

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.monotonic()
        code, out, err = cli_run("data", "check", **YFINANCE)
        elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed  # bounds the test; connections are refused at once
    assert code == 1 and out == ""
    assert err.startswith("error: Yahoo Finance could not be reached (no network?) for AAPL, MSFT")
    assert err.count("\n") == 1
    assert [str(warning.message) for warning in caught] == []


def yahoo_layout(histories) -> pd.DataFrame:
    """Histories in the layout ``yfinance.download`` returns (columns: Price, Ticker)."""
    fields = {"Close": "close", "High": "high", "Low": "low", "Open": "open", "Volume": "volume"}
    frame = pd.DataFrame(
        {
            (field, ticker): getattr(history, name)
            for field, name in fields.items()
            for ticker, history in histories.items()
        },
        index=pd.DatetimeIndex(
            next(iter(histories.values())).dates.astype("datetime64[ns]"), name="Date"
        ),
    )
    frame.columns.names = ["Price", "Ticker"]
    return frame


def test_predict_downloads_only_the_tickers_asked_for(tmp_path, monkeypatch):
    """A model trained on (replayed) Yahoo data predicts from Yahoo data, ticker by ticker."""
    from trading_engine.data import yahoo
    from trading_engine.model_retraining import ModelRetrainingService

    market = yahoo_layout(demo_histories(n_tickers=3, n_days=450))
    asked: list[list[str]] = []

    def replay(tickers, period):
        asked.append(list(tickers))
        return market.loc[:, market.columns.get_level_values("Ticker").isin(tickers)]

    monkeypatch.setattr(yahoo, "_download", replay)
    settings = load_settings(
        market={"default_stocks": ["T00", "T01", "T02"]},
        data={"provider": "yfinance"},
        retraining={"bootstrap_samples": 100},
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
    )
    service = ModelRetrainingService(settings, clock=lambda: datetime(2026, 11, 24, tzinfo=UTC))
    assert service.run_retrain(force=True).outcome == "deployed"
    assert asked == [["T00", "T01", "T02"]]  # training loads the universe

    predictor = service.predictor()
    assert [p.ticker for p in predictor.predict(["t00"])] == ["T00"]
    assert [p.ticker for p in predictor.predict(["T00", "T01"])] == ["T00", "T01"]
    assert predictor.predict(["T01"])[0].as_of == "2026-11-24"
    assert asked[1:] == [["T00"], ["T01"]]  # never the universe; cached tickers not again
