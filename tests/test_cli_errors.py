"""Mistakes a user makes at the command line: one line, the right exit code, no traceback.

Exit codes (README, *CLI*): 0 success; 1 a run that failed or was rejected, data too thin to
train on; 2 a usage, settings or data-location mistake.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.helpers import run_cli
from trading_engine.errors import DataLocationError, describe

SMALL = {"MARKET__DEFAULT_STOCKS": "AAPL,MSFT", "RETRAINING__BOOTSTRAP_SAMPLES": "100"}
# 416 demo days = 212 labelled dates after SMA200's 199-bar warm-up and the 5-day horizon: the
# least the default holdout, purges and folds hold.
FITS, SHORT = "416", "415"


@pytest.fixture
def cli_run(cli_run):
    """The CLI on a demo market of two tickers."""
    return lambda *args, **env: cli_run(*args, **{**SMALL, **env})


def one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text.strip()


def test_retrain_stops_before_training_when_the_dates_do_not_fit(cli_run):
    code, out, _ = cli_run("demo", DATA__DEMO_DAYS=SHORT)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1, out
    assert failed[0].startswith("failed: 211 labelled trading dates (")
    assert "of 415 bars, 199 are SMA200's warm-up and 5 wait for the 5-day horizon" in failed[0]
    assert "= 212: lower retraining.holdout_days (to 62)" in failed[0]
    assert "Holdout metrics" not in out  # nothing was trained
    _, history, _ = cli_run("history", "--json")
    run = json.loads(history)["items"][0]
    assert run["outcome"] == "failed" and run["reason"] == failed[0].removeprefix("failed: ")

    code, out, _ = cli_run("demo", "--json", DATA__DEMO_DAYS=FITS)
    assert json.loads(out)["outcome"] in ("deployed", "rejected")  # it trained, to the end


def test_data_check_prints_the_preflight_and_exits_1_when_it_does_not_fit(cli_run):
    code, out, _ = cli_run("data", "check", DATA__DEMO_DAYS=SHORT)
    assert code == 1
    assert "2 usable ticker(s), 0 skipped; minimum 1: enough to train" in out
    line = next(line for line in out.splitlines() if line.startswith("pre-flight: "))
    assert line.startswith("pre-flight: 211 labelled trading dates (") and "= 212: " in line
    code, out, _ = cli_run("data", "check", "--json", DATA__DEMO_DAYS=SHORT)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    check = report["preflight"]
    assert (check["labelled_dates"], check["needed"], check["fits"], check["bars"]) == (
        211,
        212,
        False,
        415,
    )
    assert (check["feature"], check["feature_window"]) == ("SMA200", 200)

    code, out, _ = cli_run("data", "check", DATA__DEMO_DAYS=FITS)
    assert code == 0
    assert "pre-flight: 212 labelled trading dates" in out and " hold a 63-day holdout" in out


def test_serve_on_a_port_that_is_not_a_port(cli_run):
    code, out, err = cli_run("serve", "--port", "99999")
    assert code == 2 and out == ""
    assert one_line(err) == "error: --port: 99999 is not a TCP port; expected 1-65535"


def test_serve_on_a_port_in_use_is_one_line_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert one_line(result.stderr) == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (another "
        "server?); choose another with --port or server.port"
    )
    assert not (tmp_path / "models").exists()  # the service never started


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (("data", "check", "{nope}"), {}, ""),
        (("features", "{nope}"), {}, ""),
        (("retrain", "--data", "{nope}"), {}, " (--data)"),
        (("retrain",), {"DATA__PROVIDER": "csv", "DATA__FOLDER": "{nope}"}, " (data.folder)"),
        (("data", "check"), {"DATA__PROVIDER": "csv", "DATA__FOLDER": "{nope}"}, ""),
    ],
)
def test_a_missing_data_folder_is_a_usage_mistake(cli_run, tmp_path, args, env, where):
    nope = str(tmp_path / "nope")
    args = tuple(arg.format(nope=nope) for arg in args)
    env = {name: value.format(nope=nope) for name, value in env.items()}
    code, out, err = cli_run(*args, **env)
    assert code == 2 and out == ""
    assert one_line(err) == f"error: market folder {nope!r}{where} does not exist"
    assert not (tmp_path / "models").exists()  # no run was started, none recorded


def test_a_file_given_as_the_data_folder(cli_run, tmp_path):
    file = tmp_path / "AAPL.csv"
    file.write_text("date,open,high,low,close,volume\n")
    code, _, err = cli_run("retrain", "--data", str(file))
    assert code == 2
    assert one_line(err) == f"error: market folder {str(file)!r} (--data) is not a folder"


def test_the_data_location_error_maps_to_exit_2_and_422():
    code = describe(DataLocationError("market folder 'x' does not exist"))
    assert (code.exit_code, code.http_status) == (2, 422)


def test_flags_are_not_shown_as_taking_a_value(cli_run):
    code, out, _ = cli_run("retrain", "--help")
    assert code == 0
    for flag in ("--force", "--full", "--json"):
        line = next(line for line in out.splitlines() if f"{flag} " in line)
        assert "<bool>" not in line, line
    assert "<path>" in next(line for line in out.splitlines() if "--data " in line)
    code, _, _ = cli_run("retrain", "--force", "true")
    assert code == 2  # "true" is an unexpected argument: --force takes no value
