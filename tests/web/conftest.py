"""A real server on a demo store prepared by real retrains, and Debian's Chromium driven by
Playwright (never a downloaded browser). Each browser module launches one browser."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.api.conftest import (  # the API tests' fixtures, reused here
    SMALL,
    client,  # noqa: F401
    make_client,  # noqa: F401
    trained,  # noqa: F401
)
from tests.conftest import TODAY
from tests.helpers import ENTRY_POINT, SOURCE, free_port, run_cli, wait_until_serving

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "dashboard-token-0123456789"
ENV = {
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": ",".join(SMALL),
    "TRADING_ENGINE_DATA__DEMO_DAYS": "900",
    "TRADING_ENGINE_DATA__DEMO_END": str(TODAY),
    "TRADING_ENGINE_RETRAINING__SCHEDULE__TIMEZONE": "UTC",
    "TRADING_ENGINE_RETRAINING__BOOTSTRAP_SAMPLES": "200",
}
WIDTHS = {"desktop": 1280, "phone": 390}


def artefacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every worker's screenshots: the session's base temp folder."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / "dashboard-artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


REPLAY = ("replay", "--every", "monthly", "--start", "2026-07-01", "--out", "replay/monthly")


def prepare_store(workdir: Path, *, replay: bool = False) -> None:
    """Two real retrains: a deploy, then a forced one (so production has a backup); with
    ``replay``, a real monthly replay report in ``replay/`` (the default ``paths.replay_dir``)."""
    for args in (("retrain",), ("retrain", "--force"), *((REPLAY,) if replay else ())):
        result = run_cli(*args, env=ENV, cwd=workdir)
        assert result.returncode == 0, result.stdout + result.stderr


MONITOR_FROM = "2026-11-24"  # the demo market's last day in ENV: monitoring starts there
MONITOR_DAYS = 9  # business days: the first 4 as-of dates learn their 5-day outcome


def monitor_days(workdir: Path, *, days: int = MONITOR_DAYS, stale_after: int = 0) -> list[str]:
    """The daily monitoring job, for real, on ``days`` business days from ``MONITOR_FROM``: each
    day ``monitor --run --as-of DAY`` with the demo market ending that day (it only grows:
    the demo market is prefix-stable). Then ``stale_after`` business days later once more with
    no new bar: stale data. Drift retrains off: the demo market drifts by design, and a
    retrain here would change production under the page tests. Returns the days run."""
    first = np.datetime64(MONITOR_FROM, "D")
    runs = [(str(np.busday_offset(first, i)),) * 2 for i in range(days)]
    if stale_after:  # (as of, the market's last day)
        runs.append((str(np.busday_offset(first, days - 1 + stale_after)), runs[-1][1]))
    for as_of, market_end in runs:
        env = {
            **ENV,
            "TRADING_ENGINE_DATA__DEMO_END": market_end,
            "TRADING_ENGINE_MONITORING__DRIFT_RETRAIN": "false",
        }
        result = run_cli("monitor", "--run", "--as-of", as_of, "--json", env=env, cwd=workdir)
        assert result.returncode == 0, result.stdout + result.stderr
    return [as_of for as_of, _ in runs]


@contextmanager
def serving(workdir: Path, **extra_env: str) -> Iterator[str]:
    """``trading-engine serve`` on a free port in ``workdir``; yields its base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_ENGINE_")}
    environment.update(
        ENV,
        TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS="1",
        PYTHONPATH=str(SOURCE),
        **extra_env,
    )
    log = (workdir / "serve.log").open("w")
    process = subprocess.Popen(
        [str(ENTRY_POINT), "serve", "--port", str(port)],
        cwd=workdir,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process)
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium from the system; a clear failure (never a skip) when it cannot start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.fail(f"playwright is not installed ({error}): pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
            )
        except Exception as error:
            pytest.fail(
                f"cannot start Chromium at {CHROMIUM} ({type(error).__name__}: "
                f"{str(error).splitlines()[0]}); install Debian's chromium package "
                "(.ci/run does: apt-get install chromium)",
                pytrace=False,
            )
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page that records console errors, failed requests and HTTP errors as they happen."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: self.problems.append(f"request failed: {r.method} {r.url} {r.failure}"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"),
        )

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        self.page.wait_for_load_state("networkidle")

    def assert_clean(self, allow: tuple[str, ...] = ()) -> None:
        problems = [p for p in self.problems if not any(a in p for a in allow)]
        assert problems == [], problems
        self.problems.clear()


@pytest.fixture
def watched(browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def api(base: str, path: str) -> dict:
    return httpx.get(f"{base}{path}", timeout=10).json()
