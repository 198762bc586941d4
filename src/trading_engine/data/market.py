"""The clean, typed market data every provider hands onward.

Providers validate once, at the boundary (see ``validation.py``); nothing downstream re-checks.
A ``PriceHistory`` holds one ticker's daily bars as numpy arrays with strictly increasing dates,
positive prices, ``low <= high`` and no missing cells.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import cast

import numpy as np

NOTHING_LOADED = "nothing loaded"  # the action of a folder with no ticker files at all


def as_day(value: object) -> np.datetime64:
    """``value`` (ISO text, a date or a datetime64 of any unit) as a calendar day."""
    return cast(np.datetime64, np.array(value, dtype="datetime64[D]")[()])


@dataclass(frozen=True)
class PriceHistory:
    """One ticker's daily OHLCV bars, oldest first."""

    ticker: str
    dates: np.ndarray  # datetime64[D], strictly increasing
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.dates)

    def until(self, last_date: np.datetime64) -> PriceHistory:
        """The history as it was known at the close of ``last_date`` (rows after it dropped)."""
        end = int(np.searchsorted(self.dates, as_day(last_date), side="right"))
        return self.rows(slice(0, end))

    def rows(self, index: slice | np.ndarray) -> PriceHistory:
        """A new history with only the selected rows."""
        return PriceHistory(
            self.ticker,
            self.dates[index],
            self.open[index],
            self.high[index],
            self.low[index],
            self.close[index],
            self.volume[index],
        )


def printable(text: str, limit: int = 80) -> str:
    """``text`` safe to show on a terminal: every unprintable character (control codes, bytes
    that were not UTF-8) becomes '?', and at most ``limit`` characters are kept."""
    clean = "".join(char if char.isprintable() else "?" for char in str(text))
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


@dataclass(frozen=True)
class Finding:
    """One data-quality fault found in one file (or ticker), and what was done about it."""

    source: str  # file name, or ticker for providers without files
    problem: str  # short code, e.g. "duplicate_dates"
    detail: str  # what was found, with values
    action: str  # what was done: "sorted", "rows dropped", "kept", "file skipped", ...
    rows: int = 0  # rows affected, where that means something

    @property
    def skipped(self) -> bool:
        return self.action == "file skipped"

    def message(self) -> str:
        return f"{self.source}: {self.detail}; {self.action}"


@dataclass
class QualityReport:
    """Everything validation found across a market folder."""

    findings: list[Finding] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)  # tickers that made it through
    skipped: list[str] = field(default_factory=list)  # sources that were dropped whole

    def to_dict(self) -> dict:
        return {
            "loaded": list(self.loaded),
            "skipped": list(self.skipped),
            "findings": [
                {
                    "source": f.source,
                    "problem": f.problem,
                    "detail": f.detail,
                    "action": f.action,
                    "rows": f.rows,
                }
                for f in self.findings
            ],
        }


@dataclass(frozen=True)
class DataSource:
    """Where a market came from, recorded with every model trained on it."""

    provider: str  # "demo", "csv", "parquet", "yfinance", or "folder" (csv and parquet)
    folder: str | None = None  # absolute path, for folder providers

    def describe(self) -> str:
        return f"{self.provider} {self.folder}" if self.folder else self.provider


@dataclass
class MarketData:
    """Validated histories by ticker plus the report of what validation found."""

    histories: dict[str, PriceHistory]
    report: QualityReport
    source: DataSource = DataSource("demo")

    def fingerprint(self) -> str:
        """A digest of every bar: equal fingerprints mean no new (or changed) data."""
        digest = hashlib.sha256()
        for ticker in sorted(self.histories):
            history = self.histories[ticker]
            digest.update(ticker.encode())
            for column in (history.dates, history.close, history.volume, history.open):
                digest.update(np.ascontiguousarray(column).tobytes())
        return digest.hexdigest()[:16]

    @property
    def tickers(self) -> list[str]:
        return list(self.histories)

    @property
    def last_date(self) -> np.datetime64 | None:
        if not self.histories:
            return None
        return max(h.dates[-1] for h in self.histories.values())
