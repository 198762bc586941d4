"""Validate one ticker's raw table into a clean ``PriceHistory``, reporting every fault.

Each fault becomes a ``Finding`` naming the file, what was wrong (with values) and the action
taken. Faults that leave usable rows are repaired (sorted, de-duplicated, bad rows dropped) or
kept with a warning; faults that leave nothing usable skip the file. Nothing here raises for
bad data: the caller decides whether enough tickers remain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

from .market import Finding, PriceHistory, printable

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = ("date", *PRICE_COLUMNS, "volume")
COLUMN_ALIASES = {
    "datetime": "date",
    "timestamp": "date",
    "time": "date",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjclose": "adj_close",
    "adjusted close": "adj_close",
    "adjusted_close": "adj_close",
    "close/last": "close",  # Nasdaq's historical-data export
}
# Overnight price ratios that betray a split or reverse split the file was not adjusted for.
SPLIT_RATIOS = np.array([1 / 4, 1 / 3, 1 / 2, 2.0, 3.0, 4.0])
UTC_OFFSET = r"(?<=\d)(?:Z|[+-]\d{2}:?\d{2})$"  # '...T00:00:00-05:00' or '...Z'
ISO_DAY = r"^(\d{4}-\d{2}-\d{2})?$"  # '2026-11-24', the usual export (or an empty cell)
SPLIT_TOLERANCE = 0.03  # relative distance from a split ratio that still counts as "near"


def normalise_name(name: str) -> str:
    """The canonical lower-case name of a column header ('Adj Close' -> 'adj_close')."""
    key = " ".join(str(name).replace("\ufeff", "").strip().lower().replace("_", " ").split())
    return COLUMN_ALIASES.get(key, key.replace(" ", "_"))


def _normalise_names(names: list[str]) -> dict[str, str]:
    """Map each canonical column name to the original header (the first of duplicates wins)."""
    mapping: dict[str, str] = {}
    for name in names:
        mapping.setdefault(normalise_name(name), name)
    return mapping


# Arrow converts arrays with nulls, booleans and dates to numpy through pandas (a quarter of a
# second to import); these read the buffers themselves, so a folder of ordinary files needs none.


def _bits(buffer: pa.Buffer | None, offset: int, length: int) -> np.ndarray:
    """An Arrow bitmap (validity or boolean values) as numpy booleans; None means all set."""
    if buffer is None:
        return np.ones(length, dtype=bool)
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + length].astype(bool)


def _numbers(column: pa.ChunkedArray | pa.Array, kind: type[np.number]) -> np.ndarray:
    """A numeric column as numpy values of ``kind`` (float64 or int32 from Arrow's buffer),
    and NaN (floats) or 0 (integers) where a cell is null."""
    arrow_type = pa.float64() if kind is np.float64 else pa.int32()
    array = column.cast(arrow_type, safe=False)  # a volume above 2**53 rounds, as before
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) == 0:
        return np.empty(0, dtype=kind)
    validity, data = array.buffers()[:2]
    values = np.frombuffer(data, dtype=kind)[array.offset : array.offset + len(array)].copy()
    if array.null_count:
        values[~_bits(validity, array.offset, len(array))] = np.nan if kind is np.float64 else 0
    return values


def _true(column: pa.ChunkedArray) -> np.ndarray:
    """Booleans where a cell is true (False where false or null)."""
    array = column.combine_chunks()
    truth = _bits(array.buffers()[1], array.offset, len(array)) if len(array) else np.empty(0, bool)
    if array.null_count:
        truth &= _bits(array.buffers()[0], array.offset, len(array))
    return truth


def _iso_days(column: pa.ChunkedArray) -> np.ndarray | None:
    """The dates when every cell is a plain ISO day or empty (NaT where the day does not
    exist, e.g. 2026-02-30), parsed by Arrow; None when any cell has another form. Most files
    take this path, which needs no pandas."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    if not pc.all(pc.match_substring_regex(text, ISO_DAY)).as_py():  # False, or no cells
        return None
    days = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls a day that does not exist over (2026-02-30 -> 03-02): keep only days that
    # print back as written.
    known = _true(pc.equal(pc.strftime(days, format="%Y-%m-%d"), text))
    epoch_days = _numbers(days.cast(pa.date32()), np.int32)  # days since 1970
    out = np.full(len(known), np.datetime64("NaT"), dtype="datetime64[D]")
    out[known] = epoch_days[known].astype("datetime64[D]")
    return out


def _parse_dates(column: pa.ChunkedArray) -> np.ndarray:
    """datetime64[D] per row; NaT where a cell is missing or not a date."""
    if pa.types.is_date(column.type):
        return column.cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        iso = _iso_days(column)
        if iso is not None:
            return iso
    import pandas as pd  # only for the other forms: time zones, month-first, mixed

    if pa.types.is_timestamp(column.type):
        series = column.to_pandas()
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)  # keep the exchange's own calendar day
    else:
        # Keep the exchange's own calendar day: drop a UTC offset instead of converting to UTC.
        text = column.cast(pa.string()).to_pandas().str.strip()
        text = text.str.replace(UTC_OFFSET, "", regex=True)
        series = _to_datetime(text, "ISO8601")
        if series.isna().sum() > text.isna().sum():  # not ISO: e.g. 11/24/2026 (month first)
            fallback = _to_datetime(text, "mixed")
            if fallback.isna().sum() < series.isna().sum():
                series = fallback
    return series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def _to_datetime(text: pd.Series, date_format: str) -> pd.Series:
    import pandas as pd

    try:
        series = pd.to_datetime(text, errors="coerce", format=date_format)
    except (ValueError, TypeError):  # e.g. offsets pandas cannot mix
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    return series


def _parse_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """float64 values, and a mask of cells that held something that is not a number."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = _numbers(column, np.float64)
        return values, np.zeros(len(values), dtype=bool)
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan), np.zeros(len(column), dtype=bool)
    import pandas as pd  # numbers written as text ('1,234.50'): rare enough to import it here

    text = column.cast(pa.string()).to_pandas()
    cleaned = text.str.replace(r"[,$\s]", "", regex=True)  # '1,234.50', '$113.22'
    values = pd.to_numeric(cleaned, errors="coerce")
    present = text.notna() & (text.str.strip() != "")
    return values.to_numpy(dtype=np.float64), (present & values.isna()).to_numpy()


def _near_split(ratio: np.ndarray) -> np.ndarray:
    return (np.abs(ratio[:, None] / SPLIT_RATIOS[None, :] - 1.0) < SPLIT_TOLERANCE).any(axis=1)


def _dates_list(dates: np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(str(d) for d in dates[:limit])
    return shown + (f" and {len(dates) - limit} more" if len(dates) > limit else "")


def clean_table(
    source: str,
    ticker: str,
    table: pa.Table,
    *,
    min_rows: int,
    adjusted_close: bool = False,
) -> tuple[PriceHistory | None, list[Finding]]:
    """Validate a raw table. Returns the clean history (None when unusable) and the findings."""
    findings: list[Finding] = []

    def note(problem: str, detail: str, action: str, rows: int = 0) -> None:
        findings.append(Finding(source, problem, detail, action, rows))

    if table.num_rows == 0:
        note("empty_file", "no data rows", "file skipped")
        return None, findings
    names = _normalise_names(table.column_names)
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        headers = [printable(str(name).strip().lower(), 30) for name in table.column_names]
        found = ", ".join(headers[:10]) + (
            f" and {len(headers) - 10} more" if len(headers) > 10 else ""
        )
        quoted = ", ".join(f"'{column}'" for column in missing)
        plural = "s" if len(missing) > 1 else ""
        note("missing_column", f"column{plural} {quoted} missing (found: {found})", "file skipped")
        return None, findings

    n = table.num_rows
    dates = _parse_dates(table.column(names["date"]))
    values: dict[str, np.ndarray] = {}
    non_numeric = np.zeros(n, dtype=bool)
    numeric_columns = list(REQUIRED_COLUMNS[1:])
    if adjusted_close and "adj_close" in names:
        numeric_columns.append("adj_close")
    for column in numeric_columns:
        values[column], bad = _parse_numbers(table.column(names[column]))
        if column != "adj_close":
            non_numeric |= bad

    bad_date = np.isnat(dates)
    cells = np.column_stack([values[c] for c in REQUIRED_COLUMNS[1:]])
    non_numeric &= ~bad_date
    empty = np.isnan(cells).any(axis=1) & ~bad_date & ~non_numeric
    for problem, rows, what in (
        ("bad_dates", bad_date, "with a missing or unreadable date"),
        ("non_numeric", non_numeric, "with a non-numeric price or volume"),
        ("missing_cells", empty, "with an empty price or volume cell"),
    ):
        if rows.any():
            count = int(rows.sum())
            note(problem, f"{count} row(s) {what}", "rows dropped", count)
    missing_cells = bad_date | non_numeric | empty

    keep = ~missing_cells
    prices = cells[:, :4]
    non_positive = keep & ((prices <= 0).any(axis=1) | (values["volume"] < 0))
    if non_positive.any():
        note(
            "non_positive_prices",
            f"{int(non_positive.sum())} row(s) with a price <= 0 or negative volume "
            f"(first on {dates[non_positive][0]})",
            "rows dropped",
            int(non_positive.sum()),
        )
    keep &= ~non_positive
    inverted = keep & (values["high"] < values["low"])
    if inverted.any():
        note(
            "high_below_low",
            f"{int(inverted.sum())} row(s) with high < low (first on {dates[inverted][0]})",
            "rows dropped",
            int(inverted.sum()),
        )
    keep &= ~inverted

    index = np.flatnonzero(keep)
    if len(index) and (np.diff(dates[index]).astype(np.int64) < 0).any():
        note("unsorted_dates", "dates are not in ascending order", "sorted")
    order = index[np.argsort(dates[index], kind="stable")]
    sorted_dates = dates[order]
    # Keep the last row of each date (a later line in the file is taken as a correction).
    last_of_date = np.ones(len(order), dtype=bool)
    last_of_date[:-1] = sorted_dates[1:] != sorted_dates[:-1]
    duplicates = int((~last_of_date).sum())
    if duplicates:
        note(
            "duplicate_dates",
            f"{duplicates} duplicated date(s), e.g. "
            f"{_dates_list(np.unique(sorted_dates[~last_of_date]))}",
            "kept last",
            duplicates,
        )
    order = order[last_of_date]

    if len(order) == 0:
        note("no_usable_rows", f"none of {n} row(s) is usable", "file skipped")
        return None, findings

    open_, high, low, close, volume = (values[c][order] for c in REQUIRED_COLUMNS[1:])
    if "adj_close" in values:
        factor = values["adj_close"][order] / close
        if np.isfinite(factor).all() and (factor > 0).all():
            open_, high, low, close = open_ * factor, high * factor, low * factor, close * factor
        else:
            note(
                "bad_adj_close", "'adj close' has missing or non-positive values", "raw prices used"
            )
    history = PriceHistory(ticker, sorted_dates[last_of_date], open_, high, low, close, volume)

    zero_volume = int((volume == 0).sum())
    if zero_volume:
        note("zero_volume", f"{zero_volume} day(s) with zero volume", "kept", zero_volume)
    if len(history) > 1:
        # The open gapping by a split ratio is the clearest sign; the close alone also counts.
        overnight, daily = open_[1:] / close[:-1], close[1:] / close[:-1]
        ratio = np.where(_near_split(overnight), overnight, daily)
        jumps = np.flatnonzero(_near_split(ratio)) + 1
        if len(jumps):
            shown = ", ".join(f"{history.dates[i]} (x{ratio[i - 1]:.2f})" for i in jumps[:3])
            note(
                "likely_split",
                f"overnight jump(s) near a split ratio on {shown}: the prices "
                "look unadjusted for a split",
                "kept; adjust the file",
                len(jumps),
            )
    if len(history) < min_rows:
        note(
            "too_short",
            f"history too short: {len(history)} usable row(s), need at least "
            f"{min_rows} (longest feature window + label horizon)",
            "file skipped",
        )
        return None, findings
    return history, findings
