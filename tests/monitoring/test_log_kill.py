"""The prediction log survives SIGKILL mid-write: `monitor --run` killed at its 1st, 2nd, ...
write or sync (strace fault injection, as tests/store/test_fault_injection.py does).

After every kill the store must pass SQLite's integrity check, the day's predictions must be
all there or not there at all (one transaction), production must be untouched, and the job run
again must finish the day's log.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.store.test_fault_injection import STRACE, ForkServer, environment, read_json, run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(STRACE is None, reason="strace is not installed (.ci/run installs it)"),
]
TICKERS = 5  # test_fault_injection's ENV: AAPL, MSFT, NVDA, AMZN, META


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Production deployed by the real CLI, its deploy-time predictions removed: the job's
    first write is then the day's log."""
    workdir = tmp_path_factory.mktemp("template")
    result = run_cli(workdir, "retrain", "--force")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(workdir / "models" / "registry.sqlite") as connection:
        connection.execute("DELETE FROM predictions")
    return workdir


def day_log(workdir: Path) -> tuple[int, int, str]:
    """(predictions logged, snapshots stored, integrity check)."""
    with sqlite3.connect(workdir / "models" / "registry.sqlite") as connection:
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        logged = connection.execute("SELECT count(*) FROM predictions").fetchone()[0]
        snapshots = connection.execute("SELECT count(*) FROM monitor_snapshots").fetchone()[0]
    return logged, snapshots, check


# SQLite writes pages with pwrite64 (dozens per job): every 3rd of those, every sync.
STRIDE = {"pwrite64": 3, "fdatasync": 1}


@pytest.mark.parametrize("syscall", list(STRIDE))
def test_the_prediction_log_survives_sigkill_mid_write(template, tmp_path, syscall):
    production = read_json(template, "status")["production_version"]
    outcomes = {"before the log": 0, "log committed, report not": 0}
    server = ForkServer(environment())
    try:
        for n in range(1, 500, STRIDE[syscall]):
            workdir = tmp_path / f"kill_{n}"
            shutil.copytree(template, workdir)
            if not server.killed_at(workdir, syscall, n, "monitor", "--run"):
                break  # the job ran to its end: every call of this kind was tried
            what = f"monitor --run killed at {syscall} #{n}"
            logged, snapshots, check = day_log(workdir)
            assert check == "ok", what
            assert logged in (0, TICKERS), f"{what}: {logged} rows, a torn day"
            if logged == 0:
                outcomes["before the log"] += 1
            elif snapshots == 0:
                outcomes["log committed, report not"] += 1
            assert read_json(workdir, "status")["production_version"] == production, what
            # Run again (forked too, never killed: no such call number): the day completes.
            assert not server.killed_at(workdir, syscall, 10**6, "monitor", "--run"), what
            assert day_log(workdir)[:2] == (TICKERS, snapshots + 1), what
            shutil.rmtree(workdir)
        else:
            pytest.fail(f"monitor --run still had {syscall} calls after 500")
    finally:
        server.close()
    # Guards: the kills landed on both sides of the log's commit, or this proved nothing.
    assert all(count > 0 for count in outcomes.values()), outcomes
