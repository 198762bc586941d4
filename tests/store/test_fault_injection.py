"""Kill `retrain --force` and `rollback` at their 1st, 2nd, ... rename/fsync/write, for real.

strace injects SIGKILL at the N-th call of one syscall (``-e inject=SYSCALL:signal=SIGKILL:
when=N``) into a real `trading-engine` process, for N = 1, 2, ... until a run completes
untouched. After every kill, `info`, `status` and `models` must agree on production, the backup
must be a different intact version that a rollback restores, and the history must hold the
run (or an interrupted record of it).

To keep hundreds of kills affordable, each victim imports everything first and waits on stdin;
strace attaches (``-p``), and only then does the command run: the count starts at the command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import TODAY
from trading_engine.cli import app
from trading_engine.config import get_settings

STRACE = shutil.which("strace")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(STRACE is None, reason="strace is not installed (.ci/run installs it)"),
]

ENV = {
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": "AAPL,MSFT,NVDA,AMZN,META",
    "TRADING_ENGINE_DATA__DEMO_DAYS": "700",
    "TRADING_ENGINE_DATA__DEMO_END": str(TODAY),
    "TRADING_ENGINE_RETRAINING__BOOTSTRAP_SAMPLES": "100",
    "TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS": "1",
}

# A fork server: imports once, then forks one victim per command. Each victim waits for "go"
# so strace can attach first; the server reports how the victim ended.
ZYGOTE = textwrap.dedent("""
    import os, sys
    from trading_engine import cli
    import trading_engine.model_retraining, trading_engine.service.pipeline  # warm imports
    for line in sys.stdin:
        workdir, *args = line.rstrip("\\n").split("\\t")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            os.chdir(workdir)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.read(read_end, 1)  # strace attaches meanwhile
            sys.argv = ["trading-engine", *args]
            try:
                cli.main()
            except SystemExit as done:
                os._exit(done.code if isinstance(done.code, int) else 0)
            os._exit(0)
        os.close(read_end)
        print(pid, flush=True)
        sys.stdin.readline()  # "go"
        os.write(write_end, b"g")
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
""")


class ForkServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def killed_at(self, workdir: Path, syscall: str, n: int, *args: str) -> bool:
        """Run the command, SIGKILLed at its n-th ``syscall``; True when the kill happened."""
        self.process.stdin.write("\t".join([str(workdir), *args]) + "\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline())
        inject = ["-e", f"inject={syscall}:signal=SIGKILL:when={n}"]
        tracer = subprocess.Popen(
            [STRACE, "-f", "-o", "/dev/null", "-p", str(pid), "-e", f"trace={syscall}", *inject],
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in tracer.stderr:  # "strace: Process N attached"
            if "attached" in line:
                break
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        code = int(self.process.stdout.readline())
        tracer.wait(timeout=60)
        return code == -9

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_ENGINE_")}
    return {**env, **ENV, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def run_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from trading_engine.cli import main; main()", *args],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def read_json(workdir: Path, *args: str):
    """A read (or rollback) command in this process: the checks cost milliseconds, not a
    process start each."""
    get_settings.cache_clear()
    env = {
        **ENV,
        "TRADING_ENGINE_PATHS__MODELS_DIR": str(workdir / "models"),
        "TRADING_ENGINE_PATHS__LOGS_DIR": str(workdir.parent / "logs"),  # one handler per test
    }
    try:
        result = CliRunner().invoke(app, [*args, "--json"], env=env)
    finally:
        get_settings.cache_clear()
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return json.loads(result.stdout) if result.exit_code == 0 else None


def check_store(workdir: Path, before: dict, what: str) -> str:
    """Every invariant a user relies on; returns production's version."""
    status = read_json(workdir, "status")
    info = read_json(workdir, "info")
    versions = read_json(workdir, "models")
    production, backup = status["production_version"], status["backup_version"]
    assert info["version"] == production, what
    roles = {v["version"]: (v["role"], v["verified"]) for v in versions}
    assert roles[production] == ("production", True), what
    assert backup and backup != production and roles[backup] == ("backup", True), what
    assert {production, backup} <= before["versions"] | {production}, what
    history = read_json(workdir, "history", "--limit", "500")
    new_runs = history["items"][: history["total"] - before["runs"]]
    assert all(run["outcome"] != "running" for run in new_runs), what
    if production not in before["versions"]:  # a new model is live: its run says so
        assert new_runs and new_runs[0]["outcome"] == "deployed", what
        assert new_runs[0]["version"] == production, what
    rolled = read_json(workdir, "rollback")
    assert rolled is not None and rolled["version"] == backup, what
    assert read_json(workdir, "info")["version"] == backup, what
    return production


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A models folder with production and a backup, made by the real CLI."""
    workdir = tmp_path_factory.mktemp("template")
    for _ in range(2):
        result = run_cli(workdir, "retrain", "--force")
        assert result.returncode == 0, result.stderr
    return workdir


def snapshot(workdir: Path) -> dict:
    status = read_json(workdir, "status")
    history = read_json(workdir, "history")
    return {
        "production": status["production_version"],
        "backup": status["backup_version"],
        "versions": {v["version"] for v in read_json(workdir, "models")},
        "runs": history["total"],
    }


# SQLite writes its pages with pwrite64 (hundreds per command): every 13th call of those.
STRIDE = {"rename": 1, "fsync": 1, "fdatasync": 1, "write": 1, "pwrite64": 13}


@pytest.mark.parametrize("syscall", list(STRIDE))
@pytest.mark.parametrize("command", [("retrain", "--force"), ("rollback",)])
def test_killed_at_every_call_the_store_stays_consistent(template, tmp_path, syscall, command):
    before = snapshot(template)
    kills = 0
    server = ForkServer(environment())
    for n in range(1, 2000, STRIDE[syscall]):
        workdir = tmp_path / f"kill_{n}"
        shutil.copytree(template, workdir)
        if not server.killed_at(workdir, syscall, n, *command):
            break  # the command ran to its end: every call of this kind was tried
        kills += 1
        production = check_store(workdir, before, f"{' '.join(command)} killed at {syscall} #{n}")
        if command[0] == "rollback":
            assert production in (before["production"], before["backup"])
        shutil.rmtree(workdir)
    else:
        pytest.fail(f"{command} still had {syscall} calls after 2000")
    server.close()
    assert kills > 0, f"{command} made no {syscall} call: the test proved nothing"
