"""Start-up: the light commands import only what they use (the real entry point, traced)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
def test_a_demo_retrain_imports_no_data_frame_library(tmp_path):
    # LightGBM and TA-Lib would import pandas (and polars) only to recognise their types, and
    # reading no folder needs no pyarrow: 0.25 s of every scheduled demo retrain. (importtime
    # also lists the imports hidden from them, so the modules are read from sys.modules.)
    script = (
        "import sys\nfrom trading_engine.cli import run\n"
        "code = run(['retrain', '--force', '--json'])\n"  # the demo market by default
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
    assert code == "0", result.stderr[-2000:]
    assert {"lightgbm", "numpy", "talib"} <= heavy(set(modules))
    assert heavy(set(modules)) & {"pandas", "pyarrow", "sklearn"} == set()
    assert not any(name.startswith("polars") for name in modules)
