"""Every kind of broken ticker file is named with its reason, and the run goes on."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TODAY, demo_histories, history_frame, write_market
from tests.helpers import run_cli
from trading_engine.data import load_market, require_enough
from trading_engine.errors import DataError

MIN_HISTORY = 200  # what the retraining service passes: the slowest base feature's window


@pytest.fixture
def broken_folder(tmp_path):
    """A market folder with two good tickers and one file per fault.

    420 days: 216 labelled dates after the SMA200 warm-up and the horizon, just above the 212
    the default holdout, purges and folds need, so the pre-flight passes."""
    histories = demo_histories(n_tickers=16, n_days=420)
    frames = {ticker: history_frame(h) for ticker, h in histories.items()}
    names = iter(frames)
    good = [next(names), next(names)]
    folder = write_market(tmp_path / "market", {t: histories[t] for t in good})

    def save(name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(folder / f"{name}.csv", index=False)

    save("UNSORTED", frames[next(names)].sample(frac=1.0, random_state=1))
    dupes = frames[next(names)]
    save("DUPES", pd.concat([dupes, dupes.iloc[[10, 20]].assign(Close=123.0)]))
    missing = frames[next(names)].astype({"Close": object})
    missing.loc[[5, 6], "Close"] = None
    save("MISSING", missing)
    text = frames[next(names)].astype({"Close": object})
    text.loc[7, "Close"] = "#VALUE!"
    save("TEXT", text)
    nonpos = frames[next(names)]
    nonpos.loc[8, "Close"] = 0.0
    nonpos.loc[9, "Low"] = -1.0
    save("NONPOS", nonpos)
    inverted = frames[next(names)]
    inverted.loc[11, ["High", "Low"]] = [1.0, 2.0]
    save("INVERTED", inverted)
    zero = frames[next(names)]
    zero.loc[12:14, "Volume"] = 0
    save("ZEROVOL", zero)
    split = frames[next(names)]
    split.loc[300:, ["Open", "High", "Low", "Close"]] *= 0.5
    save("SPLIT", split)
    save("SHORT", frames[next(names)].tail(120))
    save("STALE", frames[next(names)].iloc[:-40])
    save("NOCLOSE", frames[next(names)].drop(columns="Close"))
    dates = frames[next(names)].astype({"Date": object})
    dates.loc[3, "Date"] = "not-a-date"
    save("BADDATE", dates)
    (folder / "EMPTY.csv").write_bytes(b"")
    (folder / "HEADER.csv").write_text("date,open,high,low,close,volume\n")
    (folder / "GARBAGE.parquet").write_bytes(b"this is not parquet")
    old = frames[next(names)]
    save("OLD", old.assign(Date=old["Date"] - pd.DateOffset(years=7)))  # ended years ago
    (folder / "RANDOM.csv").write_bytes(b"\x1b[2J" + np.random.default_rng(0).bytes(3000))
    (folder / "DIR.csv").mkdir()
    (folder / "LINK.csv").symlink_to(folder / "gone.csv")
    return folder


EXPECTED = {
    "UNSORTED.csv": ("unsorted_dates", "sorted"),
    "DUPES.csv": ("duplicate_dates", "kept last"),
    "MISSING.csv": ("missing_cells", "rows dropped"),
    "TEXT.csv": ("non_numeric", "rows dropped"),
    "NONPOS.csv": ("non_positive_prices", "rows dropped"),
    "INVERTED.csv": ("high_below_low", "rows dropped"),
    "ZEROVOL.csv": ("zero_volume", "kept"),
    "SPLIT.csv": ("likely_split", "kept; adjust the file"),
    "SHORT.csv": ("too_short", "file skipped"),
    "STALE": ("stale", "ticker skipped"),
    "NOCLOSE.csv": ("missing_column", "file skipped"),
    "BADDATE.csv": ("bad_dates", "rows dropped"),
    "EMPTY.csv": ("empty_file", "file skipped"),
    "HEADER.csv": ("empty_file", "file skipped"),
    "GARBAGE.parquet": ("unreadable", "file skipped"),
    "OLD": ("stale", "ticker skipped"),  # stale, not "too short within the period"
    "RANDOM.csv": ("unreadable", "file skipped"),
    "DIR.csv": ("unreadable", "file skipped"),
    "LINK.csv": ("unreadable", "file skipped"),
}


def test_every_fault_is_named_with_its_reason_and_action(broken_folder, settings):
    market = load_market(settings, folder=broken_folder, today=TODAY, min_history=MIN_HISTORY)
    found = {(f.source, f.problem): f.action for f in market.report.findings}
    for source, (problem, action) in EXPECTED.items():
        assert found.get((source, problem)) == action, (source, problem, market.report.findings)
    skipped = {"SHORT", "STALE", "NOCLOSE", "EMPTY", "HEADER", "GARBAGE", "OLD"}
    skipped |= {"RANDOM", "DIR", "LINK"}
    assert set(market.tickers) == {p.stem for p in broken_folder.iterdir() if p.stem not in skipped}


def test_messages_say_what_was_found(broken_folder, settings):
    market = load_market(settings, folder=broken_folder, today=TODAY, min_history=MIN_HISTORY)
    messages = {f.source: f.message() for f in market.report.findings}
    assert (
        "column 'close' missing (found: date, open, high, low, volume)" in messages["NOCLOSE.csv"]
    )
    assert "history too short: 120 usable row(s), need at least 205" in messages["SHORT.csv"]
    assert "2 duplicated date(s)" in messages["DUPES.csv"]
    assert (
        "look unadjusted for a split" in messages["SPLIT.csv"]
        and "(x0.50)" in messages["SPLIT.csv"]
    )
    assert "business days behind the other tickers" in messages["STALE"]
    assert "business days behind the other tickers" in messages["OLD"]
    assert messages["RANDOM.csv"].startswith("RANDOM.csv: binary content, not CSV text (")
    assert messages["DIR.csv"] == "DIR.csv: a folder named like a ticker file; file skipped"
    assert messages["LINK.csv"] == "LINK.csv: broken symbolic link; file skipped"


def test_repairs_give_clean_histories(broken_folder, settings):
    market = load_market(settings, folder=broken_folder, today=TODAY, min_history=MIN_HISTORY)
    for history in market.histories.values():
        assert (np.diff(history.dates).astype(int) > 0).all()
        assert (history.low <= history.high).all()
        assert (np.column_stack([history.open, history.high, history.low, history.close]) > 0).all()
    # The later of two rows with the same date wins.
    dupes = market.histories["DUPES"]
    original = pd.read_csv(broken_folder / "DUPES.csv")
    corrected_date = np.datetime64(pd.Timestamp(original["Date"].iloc[10]).date())
    assert dupes.close[np.searchsorted(dupes.dates, corrected_date)] == 123.0
    assert len(market.histories["MISSING"]) == len(pd.read_csv(broken_folder / "MISSING.csv")) - 2


def test_data_check_cli_lists_every_faulty_file_without_traceback(broken_folder):
    result = run_cli("data", "check", str(broken_folder))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for source in EXPECTED:
        assert source in result.stdout, source
    assert "11 usable ticker(s)" in result.stdout


def test_data_check_json_for_scripts(broken_folder):
    result = run_cli("data", "check", str(broken_folder), "--json")
    report = json.loads(result.stdout)
    assert report["usable"] == 11 and report["ok"] is True
    problems = {(f["source"], f["problem"]) for f in report["findings"]}
    assert ("NOCLOSE.csv", "missing_column") in problems


def test_too_few_usable_tickers_stops_with_reasons(tmp_path, settings):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "A.csv").write_text("date,open,high,low,close\n2024-01-02,1,1,1,1\n")
    (folder / "B.csv").write_bytes(b"")
    market = load_market(settings, folder=folder, today=TODAY)
    with pytest.raises(
        DataError,
        match=r"only 0 usable ticker\(s\), need at least 1: A.csv: column 'volume' missing",
    ):
        require_enough(market, 1)
    result = run_cli("data", "check", str(folder))
    assert result.returncode == 1
    assert "too few to train" in result.stdout and "Traceback" not in result.stderr


def test_missing_folder_is_one_line_error(tmp_path):
    result = run_cli("data", "check", str(tmp_path / "nope"))
    assert result.returncode == 2  # a data-location mistake, like a bad --data
    assert result.stderr == f"error: market folder {str(tmp_path / 'nope')!r} does not exist\n"


@pytest.mark.parametrize(
    ("entries", "detail"),
    [
        ({}, "no .csv or .parquet ticker files: the folder is empty"),
        (
            {"notes.txt": "hello", "AAPL.xlsx": "", "raw": None},
            "no .csv or .parquet ticker files (3 other entries: AAPL.xlsx, notes.txt, raw)",
        ),
    ],
)
def test_a_folder_without_ticker_files_says_so(cli_run, tmp_path, entries, detail):
    folder = tmp_path / "market"
    folder.mkdir()
    for name, text in entries.items():
        (folder / name).mkdir() if text is None else (folder / name).write_text(text)
    code, out, _ = cli_run("data", "check", str(folder))
    assert code == 1
    assert "No data faults found" not in out
    assert f"│ {folder} │ no_ticker_files │ {detail} │ nothing loaded │" in out
    assert "0 usable ticker(s)" in out and "too few to train" in out
    code, out, _ = cli_run("retrain", "--data", str(folder))
    assert code == 1  # the folder exists: not a usage mistake, but nothing to train on
    assert f"failed: only 0 usable ticker(s), need at least 1: {folder}: {detail}" in out


def test_unreadable_entries_are_findings_that_never_echo_their_bytes(cli_run, tmp_path):
    folder = write_market(tmp_path / "market", demo_histories(n_tickers=1, n_days=420))
    (folder / "NOISE.csv").write_bytes(b"date,\x1b]0;pwned\x07\x1b[31m" + bytes(range(256)))
    (folder / "ZIP.csv").write_bytes(b"PK\x03\x04" + bytes(100))
    (folder / "[bold]MARKUP.csv").write_text("date,open,[/red]high\n2026-01-02,1,2\n")
    (folder / "TAB\tBELL\x07.csv").write_text("date,open\n2026-01-02,1\n")
    (folder / "DIR.csv").mkdir()
    (folder / "LINK.csv").symlink_to(tmp_path / "gone.csv")
    os.mkfifo(folder / "FIFO.csv")  # opening it would block forever: never opened
    code, out, err = cli_run("data", "check", str(folder))
    assert code == 0, err  # one good ticker is enough for min_tickers = 1
    assert "\x1b" not in out + err and "\x07" not in out + err and "pwned" not in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "binary content, not CSV text" in rows["NOISE.csv"]
    assert "a ZIP archive (an Excel workbook?), not CSV text" in rows["ZIP.csv"]
    assert "missing (found: date, open, [/red]high)" in rows["[bold]MARKUP.csv"]  # not markup
    assert "TAB?BELL?.csv" in rows
    assert "a folder named like a ticker file" in rows["DIR.csv"]
    assert "broken symbolic link" in rows["LINK.csv"]
    assert "not a regular file (a pipe, socket or device)" in rows["FIFO.csv"]
    code, out, _ = cli_run("data", "check", str(folder), "--json")
    report = json.loads(out)
    assert report["usable"] == 1 and len(report["skipped"]) == 7


def test_long_folder_and_file_names_are_shown_whole(cli_run, tmp_path):
    folder = tmp_path / ("m" * 120)
    folder.mkdir()
    _, out, _ = cli_run("data", "check", str(folder))
    assert f"│ {folder} │ no_ticker_files │" in out
    (folder / f"{'X' * 100}.csv").mkdir()
    _, out, _ = cli_run("data", "check", str(folder))
    assert f"│ {'X' * 100}.csv │ unreadable │" in out


def test_tickers_that_ended_long_ago_are_stale_even_when_most_did(tmp_path, settings):
    """The median last date is old here, so only the period cut sees them: still stale."""
    histories = demo_histories(n_tickers=5, n_days=300)
    for ticker in list(histories)[:3]:
        frame = history_frame(histories[ticker])
        frame.assign(Date=frame["Date"] - pd.DateOffset(years=7)).to_csv(
            tmp_path / f"{ticker}.csv", index=False
        )
    for ticker in list(histories)[3:]:
        history_frame(histories[ticker]).to_csv(tmp_path / f"{ticker}.csv", index=False)
    market = load_market(settings, folder=tmp_path, today=TODAY, min_history=MIN_HISTORY)
    problems = {f.source: f.problem for f in market.report.findings}
    assert [problems.get(t) for t in histories] == ["stale"] * 3 + [None, None]
    assert market.tickers == list(histories)[3:]
    oldest = next(iter(histories))
    detail = next(f.detail for f in market.report.findings if f.source == oldest)
    assert "business days behind the newest ticker" in detail and "within period 5y" in detail


def test_headers_any_case_and_extra_columns_ignored(tmp_path, settings):
    history = next(iter(demo_histories(n_tickers=1, n_days=300).values()))
    frame = history_frame(history)
    frame.columns = ["DATE", "open", "HIGH", "Low", " close ", "Volume"]
    frame["Adj Close"] = frame[" close "] * 0.5
    frame["Dividends"] = 0.0
    frame.to_csv(tmp_path / "aapl.csv", index=False)
    market = load_market(settings, folder=tmp_path, today=TODAY)
    assert market.tickers == ["AAPL"]
    np.testing.assert_allclose(market.histories["AAPL"].close, history.close)
    adjusted = settings.model_copy(
        update={"data": settings.data.model_copy(update={"adjusted_close": True})}
    )
    market = load_market(adjusted, folder=tmp_path, today=TODAY)
    np.testing.assert_allclose(market.histories["AAPL"].close, history.close * 0.5)


def test_parquet_and_csv_read_the_same(tmp_path, settings):
    histories = demo_histories(n_tickers=2, n_days=300)
    csv = load_market(settings, folder=write_market(tmp_path / "c", histories, "csv"), today=TODAY)
    pq = load_market(
        settings, folder=write_market(tmp_path / "p", histories, "parquet"), today=TODAY
    )
    for ticker, history in histories.items():
        np.testing.assert_allclose(csv.histories[ticker].close, history.close)
        np.testing.assert_array_equal(pq.histories[ticker].dates, history.dates)


def test_stale_market_is_warned_against_run_date(tmp_path, settings):
    folder = write_market(tmp_path / "m", demo_histories(n_tickers=2, n_days=300))
    market = load_market(settings, folder=folder, today=TODAY + np.timedelta64(60, "D"))
    assert any(f.source == "market" and f.problem == "stale" for f in market.report.findings)
    assert len(market.tickers) == 2  # a warning, not a reason to drop everything


def test_period_cut_keeps_last_years(tmp_path, settings):
    folder = write_market(tmp_path / "m", demo_histories(n_tickers=1, n_days=1000))
    market = load_market(settings, folder=folder, period="2y", today=TODAY)
    history = next(iter(market.histories.values()))
    assert history.dates[0] >= TODAY - np.timedelta64(731, "D")
    assert history.dates[-1] == np.busday_offset(TODAY, 0, roll="backward")


def test_real_world_exports_keep_their_calendar_days(tmp_path, settings):
    """yfinance CSVs with UTC offsets (DST-mixed, or east of UTC), a BOM, Nasdaq's export."""
    history = next(iter(demo_histories(n_tickers=1, n_days=300).values()))
    frame = history_frame(history)
    for zone, name in (("America/New_York", "NYSE"), ("Asia/Tokyo", "TOKYO")):
        stamps = pd.DatetimeIndex(frame["Date"]).tz_localize(zone)
        frame.assign(Date=[stamp.isoformat() for stamp in stamps]).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
    with open(tmp_path / "BOM.csv", "w", encoding="utf-8-sig") as handle:
        frame.to_csv(handle, index=False)
    nasdaq = pd.DataFrame(
        {
            "Date": frame["Date"].dt.strftime("%m/%d/%Y"),
            "Close/Last": [f"${value:,.2f}" for value in frame["Close"]],
            "Volume": frame["Volume"].astype(int),
            "Open": [f"${value:.2f}" for value in frame["Open"]],
            "High": [f"${value:.2f}" for value in frame["High"]],
            "Low": [f"${value:.2f}" for value in frame["Low"]],
        }
    ).iloc[::-1]  # newest first, as Nasdaq writes it
    nasdaq.to_csv(tmp_path / "NASDAQ.csv", index=False)
    market = load_market(settings, folder=tmp_path, today=TODAY)
    assert market.tickers == ["BOM", "NASDAQ", "NYSE", "TOKYO"]
    for ticker in market.tickers:
        np.testing.assert_array_equal(market.histories[ticker].dates, history.dates)
        np.testing.assert_allclose(market.histories[ticker].close, history.close, atol=0.006)


def test_iso_days_that_do_not_exist_or_are_empty_are_bad_dates(tmp_path, settings):
    # Plain ISO days are parsed without pandas: a day that does not exist (2026-02-30 would
    # roll over to March 2) and an empty cell are dropped and reported like any bad date.
    history = next(iter(demo_histories(n_tickers=1, n_days=300).values()))
    frame = history_frame(history).astype({"Date": object})
    frame["Date"] = [str(day) for day in history.dates]
    frame.loc[5, "Date"] = "2026-02-30"
    frame.loc[6, "Date"] = ""
    frame.loc[7, "Date"] = f" {frame.loc[7, 'Date']} "  # spaces around a good day are fine
    frame.to_csv(tmp_path / "T.csv", index=False)
    market = load_market(settings, folder=tmp_path, today=TODAY)
    kept = market.histories["T"].dates
    np.testing.assert_array_equal(kept, np.delete(history.dates, [5, 6]))
    [finding] = [f for f in market.report.findings if f.problem == "bad_dates"]
    assert finding.detail.startswith("2 row(s)") and finding.action == "rows dropped"
