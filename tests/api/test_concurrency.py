"""A real server under concurrent writes, and killed in the middle of a job."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SMALL
from tests.conftest import TODAY
from tests.helpers import ENTRY_POINT, free_port, wait_until_serving
from tests.registry_helpers import deploy
from trading_engine.store import ModelRegistry

ENV = {
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": ",".join(SMALL),
    "TRADING_ENGINE_DATA__DEMO_DAYS": "900",
    "TRADING_ENGINE_DATA__DEMO_END": str(TODAY),
    "TRADING_ENGINE_RETRAINING__SCHEDULE__TIMEZONE": "UTC",
    "TRADING_ENGINE_RETRAINING__BOOTSTRAP_SAMPLES": "200",
    "TRADING_ENGINE_RETRAINING__TUNING__N_TRIALS": "200",  # a full run lasts long enough to kill
}


@contextmanager
def server(workdir: Path):
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_ENGINE_")}
    process = subprocess.Popen(
        [str(ENTRY_POINT), "serve", "--port", str(port)],
        cwd=workdir,
        env={**environment, **ENV, "TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.slow
def test_a_server_killed_mid_job_shows_the_job_interrupted_after_restart(tmp_path):
    with server(tmp_path) as (process, base):
        job_id = httpx.post(f"{base}/api/ml/retraining/trigger?full=true").json()["job_id"]
        deadline = time.time() + 60
        while httpx.get(f"{base}/api/ml/retraining/jobs/{job_id}").json()["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with server(tmp_path) as (_, base):
        job = httpx.get(f"{base}/api/ml/retraining/jobs/{job_id}").json()
        assert job["status"] == "interrupted" and "stopped" in job["reason"]
        runs = httpx.get(f"{base}/api/ml/retraining/history").json()
        assert runs["total"] == 1 and runs["items"][0]["outcome"] == "interrupted"
        assert runs["items"][0]["job_id"] == job_id
        assert httpx.get(f"{base}/api/ml/retraining/status").json()["retraining"] is False


@pytest.mark.slow
def test_fifty_concurrent_triggers_give_one_run(tmp_path):
    with server(tmp_path) as (_, base), httpx.Client(base_url=base, timeout=30) as client:
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda _: client.post("/api/ml/retraining/trigger"), range(50)))
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [202] + [409] * 49, codes
        assert all(a.json()["error"] == "conflict" for a in answers if a.status_code == 409)
        job_id = next(a.json()["job_id"] for a in answers if a.status_code == 202)
        deadline = time.time() + 120
        while client.get(f"/api/ml/retraining/jobs/{job_id}").json()["status"] == "running":
            assert time.time() < deadline
            time.sleep(0.1)
        assert client.get("/api/ml/retraining/history").json()["total"] == 1


def test_concurrent_rollbacks_with_expected_version_perform_one(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    backup, production = deploy(registry, 0), deploy(registry, 1)
    with server(tmp_path) as (_, base), httpx.Client(base_url=base, timeout=30) as client:

        def rollback(_: int) -> httpx.Response:
            return client.post("/api/ml/retraining/rollback", json={"expected_version": production})

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(rollback, range(20)))
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200] + [409] * 19, codes
        assert client.get("/api/ml/models").json()["production"] == backup
    rollbacks = [d for d in registry.deployments() if d.kind == "rollback"]
    assert len(rollbacks) == 1
