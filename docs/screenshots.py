"""Take the README's dashboard screenshots with the system Chromium (Playwright, headless).

A demo store is made by real commands in a temporary folder (retrain, a forced retrain, a
rollback, another forced retrain), served by ``trading-engine serve``, and two pages are saved
beside this script. Run from the repository: ``.venv/bin/python docs/screenshots.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
ENTRY_POINT = Path(sys.executable).with_name("trading-engine")
CHROMIUM = "/usr/bin/chromium"
SHOTS = {"dashboard-overview.png": "/", "dashboard-timeline.png": "/timeline"}


def command(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run([str(ENTRY_POINT), *args], cwd=cwd, env=env, check=True, capture_output=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_ENGINE_")}
    env["PYTHONPATH"] = str(HERE.parent / "src")
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for args in (("retrain",), ("retrain", "--force"), ("rollback",), ("retrain", "--force")):
            command(*args, cwd=workdir, env=env)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [str(ENTRY_POINT), "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                for name, path in SHOTS.items():
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(HERE / name))
                    print(HERE / name)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
