"""Start-up: the light commands import only what they use (the real entry point, traced)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import demo_histories, write_market
from tests.helpers import SOURCE, run_cli

END = "2026-11-24"

HEAVY = (
    "lightgbm",
    "numpy",
    "pandas",
    "fastapi",
    "uvicorn",
    "optuna",
    "pyarrow",
    "talib",
    "sklearn",
    "httpx",
)


def imported_by(*args: str, cwd) -> set[str]:
    """Every module the command imported, from ``python -X importtime`` on its stderr."""
    result = run_cli(*args, cwd=cwd, env={"PYTHONPROFILEIMPORTTIME": "1"})
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert lines, result.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # the first is the header


def heavy(modules: set[str]) -> set[str]:
    """The heavy packages among ``modules``, by top-level name."""
    return {name.split(".")[0] for name in modules} & set(HEAVY)


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["--version"],
        ["status", "--json"],
        ["history", "--json"],
        ["models", "--json"],
        ["schedule", "--json"],
        ["monitor", "--json"],
    ],
    ids=" ".join,
)
def test_light_commands_import_nothing_heavy(tmp_path, command):
    modules = imported_by(*command, cwd=tmp_path)
    assert "trading_engine.cli" in modules
    assert heavy(modules) == set()


def test_history_and_models_do_not_even_import_the_scheduler(tmp_path):
    for command in (["history", "--json"], ["models", "--json"]):
        modules = imported_by(*command, cwd=tmp_path)
        assert not any(name.startswith("apscheduler") for name in modules)


def test_the_check_sees_heavy_imports(tmp_path):
    # Negative control: `info` decodes the production model, so it loads LightGBM and numpy
    # (and fails on this empty folder: there is no model yet).
    modules = imported_by("info", "--json", cwd=tmp_path)
    assert {"lightgbm", "numpy"} <= heavy(modules)


def test_version_prints_the_package_version(tmp_path):
    from trading_engine import __version__

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == f"trading-engine {__version__}\n"


@pytest.mark.slow
@pytest.mark.parametrize("source", ["demo", "csv folder"])
def test_a_retrain_imports_no_data_frame_library(tmp_path, source):
    # LightGBM and TA-Lib would import pandas (and polars) only to recognise their types, and
    # Arrow converts nulls, booleans and dates to numpy through pandas: a quarter of a second of
    # every scheduled retrain. The demo market needs no pyarrow either; a folder of ordinary CSV
    # files (ISO dates, numeric columns) needs pyarrow only. (importtime also lists the imports
    # hidden from them, so the modules are read from sys.modules.)
    args = ["retrain", "--force", "--json"]
    if source == "csv folder":
        folder = write_market(tmp_path / "market", demo_histories(n_tickers=3, n_days=700))
        args += ["--data", str(folder)]
    script = (
        "import sys\nfrom trading_engine.cli import run\n"
        f"code = run({args!r})\n"
        "print(code, *sys.modules, file=sys.stderr)"  # the last line, after the progress
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SOURCE), "TRADING_ENGINE_DATA__DEMO_END": END},
        timeout=300,
    )
    code, *modules = result.stderr.splitlines()[-1].split()
    assert code in ("0", "1"), result.stderr[-2000:]  # deployed, or rejected by a gate
    assert {"lightgbm", "numpy", "talib"} <= heavy(set(modules))
    expected_absent = {"pandas", "sklearn"} | ({"pyarrow"} if source == "demo" else set())
    assert heavy(set(modules)) & expected_absent == set()
    assert not any(name.startswith("polars") for name in modules)
