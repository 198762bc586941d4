"""Shared helpers: real files in temp folders, built from the demo generator."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_engine.config import load_settings
from trading_engine.data import DemoMarket, PriceHistory

TODAY = np.datetime64("2026-11-24")

# Tests run in 2 processes on 2 cores: one LightGBM thread each. Two OpenMP pools spinning on
# the same cores slow training ~25x (measured), so never oversubscribe. Subprocesses inherit it.
os.environ["TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS"] = "1"


def history_frame(history: PriceHistory) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Date": history.dates.astype("datetime64[ns]"),
            "Open": history.open,
            "High": history.high,
            "Low": history.low,
            "Close": history.close,
            "Volume": history.volume,
        }
    )


def demo_histories(n_tickers: int = 5, n_days: int = 600, seed: int = 3) -> dict[str, PriceHistory]:
    tickers = [f"T{i:02d}" for i in range(n_tickers)]
    return DemoMarket(n_days=n_days, end=str(TODAY), seed=seed).generate(tickers).histories


def write_market(folder: Path, histories: dict[str, PriceHistory], fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for ticker, history in histories.items():
        frame = history_frame(history)
        if fmt == "csv":
            frame.to_csv(folder / f"{ticker}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{ticker}.parquet", index=False)
    return folder


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings isolated from the developer's environment, writing under tmp_path."""
    for name in list(os.environ):
        if name.startswith("TRADING_ENGINE_") and "NUM_THREADS" not in name:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return load_settings(
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        data={"demo_end": str(TODAY)},
    )


@pytest.fixture
def cli_run(monkeypatch, tmp_path, capsys):
    """Run ``trading-engine ARGS`` in this process through ``cli.run``, in ``tmp_path`` with
    settings from ``env`` (``DATA__FOLDER=...``) only; returns (exit code, stdout, stderr)."""
    from trading_engine import cli
    from trading_engine.config import get_settings

    for name in list(os.environ):
        if name.startswith("TRADING_ENGINE_") and "NUM_THREADS" not in name:
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRADING_ENGINE_DATA__DEMO_END", str(TODAY))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.console, "width", 400)  # one finding or message, one line
    monkeypatch.setattr(cli.error_console, "width", 400)

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(f"TRADING_ENGINE_{name}", value)
        get_settings.cache_clear()
        capsys.readouterr()
        code = cli.run(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, f"{args}: {err}"
        return code, out, err

    yield run
    get_settings.cache_clear()


def pytest_terminal_summary(terminalreporter, config):
    """Say where the dashboard tests left their screenshots (tests/web/conftest.py)."""
    factory = getattr(config, "_tmp_path_factory", None)  # the session's; xdist workers nest in it
    folder = factory.getbasetemp() / "dashboard-artefacts" if factory else None
    if folder is not None and folder.is_dir() and any(folder.iterdir()):
        terminalreporter.write_line(f"dashboard screenshots: {folder}")
