"""Shared bench helpers: machine facts, timing, peak memory, JSON output."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    packages = ("numpy", "pandas", "TA-Lib", "lightgbm", "scikit-learn", "ta", "pyarrow")
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: version(name) for name in packages},
    }


def timed(function: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str))
    return path


def write_demo_folder(folder: Path, tickers: int, days: int, fmt: str = "csv") -> None:
    """The demo market as one file per ticker, as a user's market folder would be."""
    import pandas as pd

    from trading_engine.data import DemoMarket

    names = [f"T{i:04d}" for i in range(tickers)]
    market = DemoMarket(n_days=days, end="2026-11-24").generate(names)
    for ticker, h in market.histories.items():
        frame = pd.DataFrame(
            {
                "date": h.dates,
                "open": h.open,
                "high": h.high,
                "low": h.low,
                "close": h.close,
                "volume": h.volume,
            }
        )
        if fmt == "csv":
            frame.to_csv(folder / f"{ticker}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{ticker}.parquet", index=False)
