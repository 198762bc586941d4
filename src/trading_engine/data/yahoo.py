"""Market data from Yahoo Finance through the real ``yfinance`` library (needs the network)."""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa

from ..errors import ProviderError
from .market import Finding, PriceHistory, printable
from .validation import clean_table

TIMEOUT_SECONDS = 10  # per request; yfinance's own default
# Words in yfinance's error records that mean the request never reached Yahoo.
_UNREACHABLE = re.compile(
    r"connectionerror|connecterror|failed to connect|could not (resolve|connect)|name resolution|"
    r"name or service not known|network is unreachable|connection (refused|reset)|timed? ?out|"
    r"proxy|curl: \((5|6|7|28|35|56)\)",
    re.IGNORECASE,
)
_ONE_AT_A_TIME = threading.Lock()  # the log capture below is per logger, not per call


class YahooUnreachable(ConnectionError):
    """No request reached Yahoo Finance (no network, DNS, a proxy refusing)."""


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _reason(message: str) -> str:
    """The useful part of a curl or requests error, without its URL of documentation."""
    curl = re.search(r"curl: \(\d+\) (.*?)(?:\. See https?://\S+.*)?$", message, re.DOTALL)
    return printable((curl.group(1) if curl else message).strip(), 160)


def _download(tickers: list[str], period: str) -> pd.DataFrame:
    """yfinance.download, quietly: its log records and the pandas warnings it triggers are
    kept from the user; when every ticker failed for want of a connection, YahooUnreachable."""
    import yfinance

    logger = logging.getLogger("yfinance")
    capture = _Capture()
    with _ONE_AT_A_TIME, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.addHandler(capture)
        propagate, logger.propagate = logger.propagate, False
        try:
            frame = yfinance.download(
                tickers,
                period=period,
                interval="1d",
                group_by="column",
                auto_adjust=True,
                actions=False,
                progress=False,
                threads=True,
                multi_level_index=True,
                timeout=TIMEOUT_SECONDS,
            )
        finally:
            logger.removeHandler(capture)
            logger.propagate = propagate
    if not split_download(frame, tickers):
        unreachable = [m for m in capture.messages if _UNREACHABLE.search(m)]
        if unreachable:
            raise YahooUnreachable(_reason(unreachable[-1]))
    return frame


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


def _names(tickers: Sequence[str], limit: int = 10) -> str:
    more = f" and {len(tickers) - limit} more" if len(tickers) > limit else ""
    return ", ".join(printable(t, 20) for t in tickers[:limit]) + more


class YahooProvider:
    """Batch-downloads ``tickers`` for ``period`` and validates each like a file."""

    def __init__(self, download: Callable[[list[str], str], pd.DataFrame] | None = None) -> None:
        self._download = download or _download  # tests replay a stored download offline

    def load(
        self, tickers: Sequence[str], *, period: str, min_rows: int
    ) -> tuple[dict[str, PriceHistory], list[Finding]]:
        wanted = [t.strip().upper() for t in tickers]
        try:
            frame = self._download(wanted, period)
        except ConnectionError as error:
            raise ProviderError(
                f"Yahoo Finance could not be reached (no network?) for {_names(wanted)}: "
                f"{printable(str(error), 160)}"
            ) from None
        except Exception as error:  # yfinance raises many kinds; all mean "no data"
            raise ProviderError(
                f"yfinance download failed for {_names(wanted)}: {printable(str(error), 160)}"
            ) from None
        frames = split_download(frame, wanted)
        failed = [t for t in wanted if t not in frames]
        if failed and len(failed) == len(wanted):
            raise ProviderError(f"yfinance returned no data for any ticker: {_names(failed)}")
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
