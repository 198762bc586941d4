"""Run the real ``trading-engine`` entry point, or a bare import, in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import trading_engine

ENTRY_POINT = Path(sys.executable).with_name("trading-engine")
SOURCE = Path(trading_engine.__file__).parents[1]  # the folder this checkout imports from


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
):
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRADING_ENGINE_") or "NUM_THREADS" in k
    }
    environment.update({"COLUMNS": "200", "TRADING_ENGINE_DATA__DEMO_END": "2026-11-24"})
    # The code under test, even when PYTHONPATH is relative and the command runs elsewhere.
    environment["PYTHONPATH"] = str(SOURCE)
    environment.update(env or {})
    return subprocess.run(
        [str(ENTRY_POINT), *args],
        # Never the repository: commands write models/ and logs/ into their working folder.
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd or tempfile.mkdtemp(prefix="trading-engine-cli-"),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after ``statement``: this checkout's code, not an
    installed copy."""
    script = f"{statement}\nimport sys\nprint(*sys.modules, sep='\\n')"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
        check=True,
        timeout=60,
    )
    return set(result.stdout.split())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``/health`` until the server answers; fail fast if its process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {base} within {timeout} s")
