"""The yfinance provider, replayed offline on a frame in yfinance.download's exact layout.

The stored frame (fixtures/yfinance_download.parquet) has the layout yfinance 0.2.5x+ returns
for ``download([...], group_by="column", multi_level_index=True)``: columns (Price, Ticker) with
fields Close/High/Low/Open/Volume, a tz-naive index named Date, and a failed ticker (ZZZZ) as an
all-NaN block. Its prices come from the demo generator, since tests have no network.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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
        raise ConnectionError("network unreachable")

    with pytest.raises(ProviderError, match="yfinance download failed for AAPL, MSFT: network"):
        YahooProvider(download=broken).load(["AAPL", "MSFT"], period="5y", min_rows=205)


def test_nothing_returned_is_an_error_naming_every_ticker():
    empty = YahooProvider(download=lambda tickers, period: pd.DataFrame())
    with pytest.raises(ProviderError, match="no data for any ticker: AAPL, MSFT"):
        empty.load(["AAPL", "MSFT"], period="5y", min_rows=205)
