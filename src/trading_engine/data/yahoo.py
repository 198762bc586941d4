"""Market data from Yahoo Finance through the real ``yfinance`` library (needs the network)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa

from ..errors import ProviderError
from .market import Finding, PriceHistory
from .validation import clean_table


def _download(tickers: list[str], period: str) -> pd.DataFrame:
    import yfinance

    return yfinance.download(
        tickers,
        period=period,
        interval="1d",
        group_by="column",
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=True,
        multi_level_index=True,
    )


def split_download(frame: pd.DataFrame, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per-ticker frames (columns date, open, high, low, close, volume) from a batch download.

    ``yfinance.download`` returns a frame indexed by date with two column levels
    (field, ticker) such as ``("Close", "AAPL")``. A ticker whose rows are all empty failed.
    """
    if frame is None or frame.empty:
        return {}
    if not isinstance(frame.columns, pd.MultiIndex):  # one ticker with a flat header
        frame = pd.concat({tickers[0]: frame}, axis=1).swaplevel(0, 1, axis=1)
    fields = {str(name).lower(): name for name in frame.columns.get_level_values(0).unique()}
    per_ticker: dict[str, pd.DataFrame] = {}
    for ticker in tickers:
        if ticker not in frame.columns.get_level_values(1):
            continue
        columns = {
            field: frame[(original, ticker)]
            for field, original in fields.items()
            if field in ("open", "high", "low", "close", "volume")
        }
        data = pd.DataFrame(columns)
        data = data.dropna(how="all")
        if data.empty:
            continue
        data.insert(0, "date", pd.DatetimeIndex(data.index).tz_localize(None).normalize())
        per_ticker[ticker] = data.reset_index(drop=True)
    return per_ticker


class YahooProvider:
    """Batch-downloads ``tickers`` for ``period`` and validates each like a file."""

    def __init__(self, download: Callable[[list[str], str], pd.DataFrame] = _download) -> None:
        self._download = download  # injectable so tests replay a stored download offline

    def load(
        self, tickers: Sequence[str], *, period: str, min_rows: int
    ) -> tuple[dict[str, PriceHistory], list[Finding]]:
        wanted = [t.strip().upper() for t in tickers]
        try:
            frame = self._download(wanted, period)
        except Exception as error:  # yfinance raises many kinds; all mean "no data"
            raise ProviderError(
                f"yfinance download failed for {', '.join(wanted)}: {error}"
            ) from None
        frames = split_download(frame, wanted)
        failed = [t for t in wanted if t not in frames]
        if failed and len(failed) == len(wanted):
            raise ProviderError(f"yfinance returned no data for any ticker: {', '.join(failed)}")
        findings = [
            Finding(t, "download_failed", "yfinance returned no rows", "ticker skipped")
            for t in failed
        ]
        histories: dict[str, PriceHistory] = {}
        for ticker, data in frames.items():
            table = pa.Table.from_pandas(data, preserve_index=False)
            history, ticker_findings = clean_table(ticker, ticker, table, min_rows=min_rows)
            findings.extend(ticker_findings)
            if history is not None:
                histories[ticker] = history
        return histories, findings
