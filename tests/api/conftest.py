"""An app over a real service on a temp models folder, with a small demo market."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TODAY
from trading_engine.config import load_settings
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.server import create_app

SMALL = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOGL", "JPM", "XOM", "KO", "PEP"]
# The address a local client uses: writes addressed to TestClient's default "testserver" host
# are refused without an API token, as a DNS rebinding would be.
BASE_URL = "http://127.0.0.1:8000"


def small_settings(tmp_path, **server):
    return load_settings(
        market={"default_stocks": SMALL},
        data={"demo_end": str(TODAY), "demo_days": 900},
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        retraining={"schedule": {"timezone": "UTC"}, "bootstrap_samples": 200},
        server=server,
    )


def wait_for_job(client, job_id, timeout=120):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/ml/retraining/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture
def make_client(tmp_path):
    clients = []

    def make(start_scheduler=False, raise_server_exceptions=True, **server):
        service = ModelRetrainingService(small_settings(tmp_path, **server))
        app = create_app(service, start_scheduler=start_scheduler)
        client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def trained(client):
    job = client.post("/api/ml/retraining/trigger").json()
    assert wait_for_job(client, job["job_id"])["status"] == "succeeded"
    return client
