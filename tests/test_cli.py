"""The ``trading-engine`` command through its real entry point."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import demo_histories, write_market
from tests.helpers import run_cli


def test_demo_retrains_and_deploys_on_the_full_demo_market(tmp_path):
    result = run_cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Demo market: 50 tickers, 1512 business days" in result.stdout
    assert "deployed as version" in result.stdout
    for gate in ("min_f1_score", "min_accuracy", "skill_pt", "skill_auc"):
        assert gate in result.stdout
    assert (tmp_path / "models" / "prod_model.bin").exists()
    run = json.loads(run_cli("demo", "--json", cwd=tmp_path).stdout)
    assert run["outcome"] == "deployed" and run["tickers"] == 50
    assert run["metrics"]["f1_score"] > 0.65 and run["metrics"]["accuracy"] > 0.70


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
    result = run_cli("features", "--out", str(tmp_path / "rows.xlsx"), cwd=tmp_path)
    assert result.returncode == 2
    assert "must end in .csv or .parquet" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error(tmp_path):
    result = run_cli("frobnicate", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
