"""Market data from a folder holding one ``TICKER.csv`` or ``TICKER.parquet`` per ticker."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import DataError
from .market import Finding, PriceHistory
from .validation import normalise_name

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _date_columns(path: Path) -> dict[str, pa.DataType]:
    """Read date-like columns as text: pyarrow would turn '...T00:00-05:00' into UTC and lose
    the exchange's calendar day; validation parses the text instead."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    names = [name.strip().strip('"') for name in header.rstrip("\r\n").split(",")]
    return {name: pa.string() for name in names if normalise_name(name) == "date"}


def _read(path: Path) -> pa.Table:
    if SUFFIXES[path.suffix.lower()] == "parquet":
        return pq.read_table(path)
    # Threads are spent across files, not inside one; every column is typed by validation.
    return pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=False),
        convert_options=pa_csv.ConvertOptions(column_types=_date_columns(path)),
    )


class FolderProvider:
    """Reads, validates and returns each ticker file of ``folder`` (csv, parquet or both)."""

    def __init__(
        self,
        folder: Path,
        *,
        formats: Sequence[str] = ("csv", "parquet"),
        adjusted_close: bool = False,
        workers: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.formats = tuple(formats)
        self.adjusted_close = adjusted_close
        self.workers = workers

    def files(self, tickers: Sequence[str] | None = None) -> tuple[dict[str, Path], list[Finding]]:
        """Ticker -> file; findings for duplicates and for requested tickers with no file."""
        if not self.folder.is_dir():
            raise DataError(f"market folder {str(self.folder)!r} does not exist or is not a folder")
        found: dict[str, Path] = {}
        findings: list[Finding] = []
        for path in sorted(self.folder.iterdir()):
            kind = SUFFIXES.get(path.suffix.lower())
            if kind not in self.formats or not path.is_file():
                continue
            ticker = path.stem.strip().upper()
            if ticker in found:
                findings.append(
                    Finding(
                        path.name,
                        "duplicate_ticker",
                        f"ticker {ticker} also in {found[ticker].name}",
                        "file skipped",
                    )
                )
                continue
            found[ticker] = path
        if tickers is not None:
            wanted = [t.strip().upper() for t in tickers]
            for ticker in wanted:
                if ticker not in found:
                    findings.append(
                        Finding(
                            ticker,
                            "no_file",
                            f"no {' or '.join(self.formats)} file for ticker {ticker}",
                            "ticker skipped",
                        )
                    )
            found = {t: found[t] for t in wanted if t in found}
        return found, findings

    def load_one(
        self, ticker: str, path: Path, min_rows: int
    ) -> tuple[PriceHistory | None, list[Finding]]:
        from .validation import clean_table

        try:
            if path.stat().st_size == 0:
                return None, [
                    Finding(path.name, "empty_file", "file is empty (0 bytes)", "file skipped")
                ]
            table = _read(path)
        except (pa.ArrowInvalid, OSError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            problem = "empty_file" if "Empty CSV file" in reason else "unreadable"
            return None, [Finding(path.name, problem, f"cannot be read: {reason}", "file skipped")]
        return clean_table(
            path.name, ticker, table, min_rows=min_rows, adjusted_close=self.adjusted_close
        )

    def load(
        self, tickers: Sequence[str] | None, *, min_rows: int
    ) -> tuple[dict[str, PriceHistory], list[Finding]]:
        files, findings = self.files(tickers)
        workers = self.workers or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(
                pool.map(lambda item: self.load_one(item[0], item[1], min_rows), files.items())
            )
        histories: dict[str, PriceHistory] = {}
        for (ticker, _), (history, file_findings) in zip(files.items(), results, strict=True):
            findings.extend(file_findings)
            if history is not None:
                histories[ticker] = history
        return histories, findings
