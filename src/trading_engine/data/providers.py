"""Choose the configured provider, load, cut to the period and check what is left."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .demo import DemoMarket
from .market import (
    NOTHING_LOADED,
    DataSource,
    Finding,
    MarketData,
    PriceHistory,
    QualityReport,
    as_day,
    printable,
)

if TYPE_CHECKING:
    from ..config import Settings

_PERIOD_DAYS = {"d": 1.0, "wk": 7.0, "mo": 30.4375, "y": 365.25}


def period_start(last_date: np.datetime64, period: str) -> np.datetime64 | None:
    """First calendar day inside ``period`` ending at ``last_date``; None for "max"."""
    if period == "max":
        return None
    match = re.fullmatch(r"(\d+)(d|wk|mo|y)", period)
    if not match:
        raise DataError(f"period {period!r} not understood; use e.g. 5y, 60mo, 52wk, 1260d or max")
    days = round(int(match.group(1)) * _PERIOD_DAYS[match.group(2)])
    return as_day(last_date) - np.timedelta64(days - 1, "D")


def _business_days_between(earlier: np.datetime64, later: np.datetime64) -> int:
    return int(np.busday_count(as_day(earlier), as_day(later)))


def load_market(
    settings: Settings,
    *,
    tickers: Sequence[str] | None = None,
    period: str | None = None,
    folder: Path | None = None,
    today: np.datetime64 | None = None,
    min_history: int = 1,
) -> MarketData:
    """Load validated market data. Never raises for bad files: they become findings.

    ``folder`` overrides the configured provider with a folder of csv and parquet files.
    ``today`` is the run date (injected so tests control the clock).
    ``min_history`` is the bars a ticker needs before its first usable row: callers that
    compute features pass the slowest feature's window (``features.catalogue.feature_window``);
    data knows nothing of features. A ticker also needs ``retraining.horizon`` bars after that
    row for its label, so tickers shorter than ``min_history + horizon`` are skipped.
    """
    period = period or settings.market.period
    min_rows = min_history + settings.retraining.horizon
    today = as_day(today or np.datetime64("today"))
    findings: list[Finding] = []
    data = settings.data
    folder_used = folder if folder is not None else data.folder
    if data.provider not in ("csv", "parquet") and folder is None:
        folder_used = None
    if folder_used is not None:
        from .folder import FolderProvider  # pyarrow: only for folders

        formats = ("csv", "parquet") if folder is not None else (data.provider,)
        provider = FolderProvider(
            folder_used,
            formats=formats,
            adjusted_close=data.adjusted_close,
            workers=data.load_workers,
        )
        histories, findings = provider.load(tickers, min_rows=min_rows)
    elif data.provider == "yfinance":
        from .yahoo import YahooProvider  # pandas and yfinance: only for Yahoo

        histories, findings = YahooProvider().load(
            tickers or settings.market.default_stocks, period=period, min_rows=min_rows
        )
    else:
        histories = _demo(settings, tickers, today, findings)

    # Stale first: a ticker that ended years ago is stale, not "too short within the period".
    histories = _drop_stale(histories, data.stale_days, today, findings)
    histories = _cut_to_period(histories, period, min_rows, findings, data.stale_days)
    report = QualityReport(
        findings=findings,
        loaded=sorted(histories),
        skipped=sorted(
            {f.source for f in findings if f.action in ("file skipped", "ticker skipped")}
        ),
    )
    if folder_used is not None:
        kind = "folder" if folder is not None else data.provider
        source = DataSource(kind, str(Path(folder_used).resolve()))
    else:
        source = DataSource(data.provider)
    return MarketData(dict(sorted(histories.items())), report, source)


def _demo(
    settings: Settings,
    tickers: Sequence[str] | None,
    today: np.datetime64,
    findings: list[Finding],
) -> dict[str, PriceHistory]:
    """The demo market, always generated whole (a ticker's path depends on its position in
    ``market.default_stocks``), then cut to ``tickers``; other names are not in it."""
    data, universe = settings.data, settings.market.default_stocks
    demo = DemoMarket(n_days=data.demo_days, end=data.demo_end, seed=data.demo_seed)
    histories = demo.generate(universe, today=today).histories
    if tickers is None:
        return histories
    wanted = list(dict.fromkeys(t.strip().upper() for t in tickers))
    for ticker in wanted:
        if ticker not in histories:
            findings.append(
                Finding(
                    printable(ticker),
                    "unknown_ticker",
                    f"{printable(ticker)} is not in the demo market (market.default_stocks)",
                    "ticker skipped",
                )
            )
    return {t: histories[t] for t in wanted if t in histories}


def _cut_to_period(
    histories: dict[str, PriceHistory],
    period: str,
    min_rows: int,
    findings: list[Finding],
    stale_days: int,
) -> dict[str, PriceHistory]:
    if not histories or period == "max":
        return histories
    last = max(h.dates[-1] for h in histories.values())
    start = period_start(last, period)
    assert start is not None  # None only for "max", returned above
    kept: dict[str, PriceHistory] = {}
    for ticker, history in histories.items():
        cut = history.rows(slice(int(np.searchsorted(history.dates, start)), None))
        if len(cut) < min_rows:
            lag = _business_days_between(history.dates[-1], last)
            if lag > stale_days:  # most tickers were stale too, so the median did not see it
                problem = "stale"
                detail = (
                    f"last date {history.dates[-1]} is {lag} business days behind the newest "
                    f"ticker ({last}): only {len(cut)} row(s) within period {period}"
                )
            else:
                problem = "too_short"
                detail = (
                    f"only {len(cut)} row(s) within period {period} (from {start}), need at "
                    f"least {min_rows}"
                )
            findings.append(Finding(ticker, problem, detail, "ticker skipped"))
            continue
        kept[ticker] = cut
    return kept


def _drop_stale(
    histories: dict[str, PriceHistory],
    stale_days: int,
    today: np.datetime64,
    findings: list[Finding],
) -> dict[str, PriceHistory]:
    if not histories:
        return histories
    last_dates = np.array([h.dates[-1] for h in histories.values()], dtype="datetime64[D]")
    reference = np.sort(last_dates)[len(last_dates) // 2]  # the typical (median) last date
    kept: dict[str, PriceHistory] = {}
    for ticker, history in histories.items():
        lag = _business_days_between(history.dates[-1], reference)
        if lag > stale_days:
            findings.append(
                Finding(
                    ticker,
                    "stale",
                    f"last date {history.dates[-1]} is {lag} business days behind the other "
                    "tickers "
                    f"({reference})",
                    "ticker skipped",
                )
            )
            continue
        kept[ticker] = history
    newest = max(h.dates[-1] for h in kept.values())
    behind = _business_days_between(newest, today)
    if behind > stale_days:
        findings.append(
            Finding(
                "market",
                "stale",
                f"newest data is from {newest}, {behind} business days before the run date {today}",
                "kept; refresh the data",
            )
        )
    return kept


def require_enough(market: MarketData, min_tickers: int) -> MarketData:
    """Raise ``DataError`` with the reasons when fewer than ``min_tickers`` tickers are usable."""
    if len(market.histories) >= min_tickers:
        return market
    skipped = [
        f.message()
        for f in market.report.findings
        if f.action.endswith("skipped") or f.action == NOTHING_LOADED
    ]
    reasons = "; ".join(skipped[:5]) + (
        f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    )
    raise DataError(
        f"only {len(market.histories)} usable ticker(s), need at least {min_tickers}"
        + (f": {reasons}" if reasons else "")
    )
