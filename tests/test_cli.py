"""The ``trading-engine`` command through its real entry point."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import demo_histories, write_market
from tests.helpers import run_cli


def test_demo_prints_a_feature_summary():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    assert "Demo market: 50 tickers" in result.stdout
    for name in ("SMA50", "Volatility", "Volume_Change"):
        assert name in result.stdout


def test_features_writes_every_row_with_label(tmp_path):
    folder = write_market(tmp_path / "market", demo_histories(n_tickers=3, n_days=300))
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"rows.{suffix}"
        result = run_cli("features", str(folder), "--out", str(out))
        assert result.returncode == 0, result.stderr
        rows = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
        assert list(rows.columns[:3]) == ["date", "ticker", "SMA50"]
        assert rows.columns[-1] == "label"
        assert len(rows) == 3 * (300 - 199)
        assert rows["label"].isna().sum() == 3 * 5  # the newest rows have no label yet


def test_features_rejects_an_unknown_output_format(tmp_path):
    result = run_cli("features", "--out", str(tmp_path / "rows.xlsx"))
    assert result.returncode == 2
    assert "must end in .csv or .parquet" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_json_is_machine_readable():
    summary = json.loads(run_cli("demo", "--json").stdout)
    assert summary["tickers"] == 50 and 0.4 < summary["base_rate"] < 0.6


def test_unknown_command_is_a_usage_error():
    result = run_cli("frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
