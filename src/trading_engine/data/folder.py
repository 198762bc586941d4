"""Market data from a folder holding one ``TICKER.csv`` or ``TICKER.parquet`` per ticker."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from ..cores import available_cores
from ..errors import DataLocationError
from .market import NOTHING_LOADED, Finding, PriceHistory, printable
from .validation import normalise_name

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SNIFF_BYTES = 4096  # bytes of a CSV file looked at before parsing it
MAGIC = {  # file signatures that mean "not CSV text", and what the file probably is
    b"\xff\xfe": "UTF-16 text; save it as UTF-8 CSV",
    b"\xfe\xff": "UTF-16 text; save it as UTF-8 CSV",
    b"\x1f\x8b": "gzip-compressed; decompress it first",
    b"PK\x03\x04": "a ZIP archive (an Excel workbook?), not CSV text; export it as CSV",
    b"PAR1": "a Parquet file named .csv; rename it to .parquet",
}


def _whole(name: str) -> str:
    """A path or file name as shown: escaped, never cut (a person must be able to find it)."""
    return printable(name, limit=4096)


def check_folder(folder: Path, source: str | None = None) -> Path:
    """``folder`` when it is a folder that can be listed; else a one-line ``DataLocationError``.

    ``source`` names where the path came from (``--data``, ``data.folder``) for the message.
    """
    folder = Path(folder)
    name = f"market folder {_whole(str(folder))!r}" + (f" ({source})" if source else "")
    try:
        if not folder.is_dir():
            exists = folder.exists()
            raise DataLocationError(f"{name} {'is not a folder' if exists else 'does not exist'}")
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        raise DataLocationError(f"{name} cannot be read: {reason}") from None
    return folder


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` (named like a ticker file) cannot be read as one; None when it can."""
    try:
        if path.is_symlink() and not path.exists():
            return "broken symbolic link"
        mode = path.stat().st_mode
    except OSError as error:
        return f"cannot be read: {(error.strerror or type(error).__name__).lower()}"
    if stat.S_ISDIR(mode):
        return "a folder named like a ticker file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    return None


def _not_text(path: Path) -> str | None:
    """Why a ``.csv`` file is not CSV text, from its first bytes; None when it looks like text.

    Never echoes the bytes: they may hold terminal control sequences.
    """
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return what
    control = sum(1 for byte in head if (byte < 32 and byte not in (9, 10, 13)) or byte == 127)
    if b"\x00" in head or control * 100 > len(head):
        return f"binary content, not CSV text ({control} control byte(s) in the first {len(head)})"
    return None


def _date_columns(path: Path) -> dict[str, pa.DataType]:
    """Read date-like columns as text: pyarrow would turn '...T00:00-05:00' into UTC and lose
    the exchange's calendar day; validation parses the text instead."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    names = [name.strip().strip('"') for name in header.rstrip("\r\n").split(",")]
    return {name: pa.string() for name in names if normalise_name(name) == "date"}


def _read(path: Path) -> pa.Table:
    if SUFFIXES[path.suffix.lower()] == "parquet":
        import pyarrow.parquet as pq  # a folder of CSV files never pays for it

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
        """Ticker -> file; findings for entries that cannot be read, duplicates, requested
        tickers with no file, and a folder with no ticker files at all."""
        check_folder(self.folder)
        wanted = None if tickers is None else [t.strip().upper() for t in tickers]
        found: dict[str, Path] = {}
        seen: set[str] = set()
        findings: list[Finding] = []
        others: list[str] = []
        for path in sorted(self.folder.iterdir()):
            if SUFFIXES.get(path.suffix.lower()) not in self.formats:
                others.append(path.name)
                continue
            ticker = path.stem.strip().upper()
            if wanted is not None and ticker not in wanted:
                continue
            seen.add(ticker)
            source = _whole(path.name)
            problem = _not_a_file(path)
            if problem:
                findings.append(Finding(source, "unreadable", problem, "file skipped"))
            elif ticker in found:
                findings.append(
                    Finding(
                        source,
                        "duplicate_ticker",
                        f"ticker {_whole(ticker)} also in {_whole(found[ticker].name)}",
                        "file skipped",
                    )
                )
            else:
                found[ticker] = path
        if wanted is not None:
            for ticker in dict.fromkeys(wanted):
                if ticker not in seen:
                    findings.append(
                        Finding(
                            printable(ticker),
                            "no_file",
                            f"no {' or '.join(self.formats)} file for ticker {printable(ticker)}",
                            "ticker skipped",
                        )
                    )
            found = {t: found[t] for t in dict.fromkeys(wanted) if t in found}
        elif not seen:
            findings.append(self._nothing_to_load(others))
        return found, findings

    def _nothing_to_load(self, others: list[str]) -> Finding:
        kinds = " or ".join(f".{kind}" for kind in self.formats)
        if others:
            shown = ", ".join(printable(name, 30) for name in others[:3])
            more = f" and {len(others) - 3} more" if len(others) > 3 else ""
            plural = "y" if len(others) == 1 else "ies"
            detail = f"no {kinds} ticker files ({len(others)} other entr{plural}: {shown}{more})"
        else:
            detail = f"no {kinds} ticker files: the folder is empty"
        return Finding(_whole(str(self.folder)), "no_ticker_files", detail, NOTHING_LOADED)

    def load_one(
        self, ticker: str, path: Path, min_rows: int
    ) -> tuple[PriceHistory | None, list[Finding]]:
        from .validation import clean_table

        source = _whole(path.name)
        try:
            if path.stat().st_size == 0:
                return None, [
                    Finding(source, "empty_file", "file is empty (0 bytes)", "file skipped")
                ]
            if SUFFIXES[path.suffix.lower()] == "csv" and (problem := _not_text(path)):
                return None, [Finding(source, "unreadable", problem, "file skipped")]
            table = _read(path)
        except (pa.ArrowException, OSError, ValueError) as error:
            if isinstance(error, OSError) and error.strerror:
                reason = error.strerror.lower()
            else:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            problem = "empty_file" if "Empty CSV file" in reason else "unreadable"
            detail = f"cannot be read: {printable(reason, 120)}"
            return None, [Finding(source, problem, detail, "file skipped")]
        return clean_table(
            source, ticker, table, min_rows=min_rows, adjusted_close=self.adjusted_close
        )

    def load(
        self, tickers: Sequence[str] | None, *, min_rows: int
    ) -> tuple[dict[str, PriceHistory], list[Finding]]:
        files, findings = self.files(tickers)
        workers = self.workers or available_cores()
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
