"""Feature throughput: trading-engine (TA-Lib, numpy) vs the usual pandas + `ta` per ticker.

Run: ./dev.sh bench   (or .venv/bin/python bench/features.py)
Both sides compute the same 9 features for every ticker from in-memory prices.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, timed
from trading_engine.data import DemoMarket
from trading_engine.features import dataset_from_market

SIZES = [(50, 1260), (500, 5040)]


def usual_stack(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The common way: one pandas frame per ticker, indicators from the `ta` package."""
    import ta

    parts = []
    for ticker, frame in frames.items():
        close, volume = frame["close"], frame["volume"]
        out = pd.DataFrame(index=frame.index)
        out["SMA50"] = close / ta.trend.sma_indicator(close, window=50) - 1
        out["SMA200"] = close / ta.trend.sma_indicator(close, window=200) - 1
        out["RSI"] = ta.momentum.rsi(close, window=14)
        out["MACD"] = ta.trend.macd(close, window_slow=26, window_fast=12) / close
        out["BB"] = ta.volatility.bollinger_pband(close, window=20, window_dev=2)
        out["Volume_Change"] = volume / volume.rolling(20).mean() - 1
        out["Return_1d"] = close.pct_change()
        out["Return_5d"] = close.pct_change(5)
        out["Volatility"] = out["Return_1d"].rolling(20).std()
        out["label"] = (close.shift(-5) > close).astype(float).where(close.shift(-5).notna())
        out["ticker"] = ticker
        parts.append(out.dropna(subset=["SMA200"]))
    return pd.concat(parts)


def main() -> None:
    facts = machine()
    print(f"features bench: {facts['cores']} cores, Python {facts['python']}, {facts['versions']}")
    results = []
    for n_tickers, n_days in SIZES:
        market = DemoMarket(n_days=n_days, end="2026-11-24").generate(
            [f"T{i:04d}" for i in range(n_tickers)]
        )
        frames = {
            t: pd.DataFrame({"close": h.close, "volume": h.volume}, index=pd.DatetimeIndex(h.dates))
            for t, h in market.histories.items()
        }
        ours, dataset = timed(lambda m=market: dataset_from_market(m), repeat=3)
        usual, reference = timed(lambda f=frames: usual_stack(f), repeat=1)
        rows = len(dataset)
        row = {
            "tickers": n_tickers,
            "days": n_days,
            "rows": rows,
            "ours_s": ours,
            "usual_s": usual,
            "ours_rows_per_s": rows / ours,
            "usual_rows_per_s": len(reference) / usual,
            "speedup": usual / ours,
        }
        results.append(row)
        print(
            f"{n_tickers:>5} tickers x {n_days} days = {rows:>9,} rows | "
            f"trading-engine {rows / ours:>12,.0f} rows/s ({ours:.3f} s) | "
            f"pandas+ta {len(reference) / usual:>10,.0f} rows/s ({usual:.3f} s) | "
            f"{usual / ours:.1f}x faster"
        )
    print(f"figures written to {save('features', {'results': results})}")


if __name__ == "__main__":
    main()
