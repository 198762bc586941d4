"""Every endpoint over HTTP, including the 401, 404, 409 and 422 paths."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import SMALL, wait_for_job
from trading_engine.config import load_settings
from trading_engine.errors import ConfigError
from trading_engine.server import check_bind


def test_status_has_the_seeds_shape(client):
    status = client.get("/api/ml/retraining/status").json()
    assert {
        "running",
        "current_metrics",
        "next_retraining",
        "scheduled_jobs",
        "model_path",
        "backup_path",
    } <= set(status)
    assert status["model_path"].endswith("prod_model.bin")


def test_trigger_starts_a_background_job_that_deploys(trained):
    status = trained.get("/api/ml/retraining/status").json()
    assert status["production_version"] and status["current_metrics"]["f1_score"] > 0.65
    history = trained.get("/api/ml/retraining/history").json()
    assert history["total"] == 1 and history["items"][0]["outcome"] == "deployed"


def test_trigger_response_and_conflict_while_running(client):
    service = client.app.state.service
    response = client.post("/api/ml/retraining/trigger?force=true")
    assert response.status_code == 202
    body = response.json()
    assert re.fullmatch(r"retrain_\d+(_\d+)?", body["job_id"])
    assert body["status"] == "started" and body["message"] == "Retraining job started in background"
    wait_for_job(client, body["job_id"])
    held = service.registry.acquire()  # another process retraining
    try:
        conflict = client.post("/api/ml/retraining/trigger")
        assert conflict.status_code == 409
        assert conflict.json() == {"error": "conflict", "message": conflict.json()["message"]}
        assert "already running" in conflict.json()["message"]
        assert client.post("/api/ml/retraining/rollback").status_code == 409
    finally:
        held.release()


def test_model_info_before_and_after_training(client):
    missing = client.get("/api/ml/model/info")
    assert missing.status_code == 404 and "no production model" in missing.json()["message"]
    job = client.post("/api/ml/retraining/trigger").json()
    wait_for_job(client, job["job_id"])
    info = client.get("/api/ml/model/info").json()
    assert info["feature_count"] == 9 and info["features"][0] == "SMA50"
    assert info["model_path"].endswith("prod_model.bin") and info["version"]
    assert info["train_start"] < info["train_end"] and info["metrics"]["f1_score"] > 0


def test_rollback_paths(trained):
    assert trained.post("/api/ml/retraining/rollback").status_code == 409  # no backup yet
    first = trained.get("/api/ml/model/info").json()["version"]
    job = trained.post("/api/ml/retraining/trigger?force=true").json()
    wait_for_job(trained, job["job_id"])
    response = trained.post("/api/ml/retraining/rollback")
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["version"] == first
    second = response.json()["previous_version"]
    by_body = trained.post("/api/ml/retraining/rollback", json={"version": second})
    assert by_body.status_code == 200 and by_body.json()["version"] == second
    assert trained.post("/api/ml/retraining/rollback?version=20990101_000000").status_code == 404
    assert trained.post("/api/ml/retraining/rollback?version=..%2Fx").status_code == 422
    versions = trained.get("/api/ml/models").json()
    assert versions["production"] == second and versions["backup"] == first


def test_jobs_history_paging_and_unknown_job(trained):
    assert trained.get("/api/ml/retraining/jobs/retrain_1").status_code == 404
    page = trained.get("/api/ml/retraining/history?limit=1&offset=0").json()
    assert page["limit"] == 1 and len(page["items"]) == 1
    assert trained.get("/api/ml/retraining/history?limit=0").status_code == 422


def test_predict(trained):
    response = trained.post("/api/ml/predict", json={"tickers": ["aapl", "MSFT"]})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [p["ticker"] for p in predictions] == ["AAPL", "MSFT"]
    assert all(
        0 <= p["probability_up"] <= 1 and p["direction"] in ("up", "down") for p in predictions
    )
    assert predictions[0]["as_of"] == "2026-11-24" and predictions[0]["model_version"]
    unknown = trained.post("/api/ml/predict", json={"tickers": ["ZZZZ"]})
    assert unknown.status_code == 404 and "unknown ticker(s): ZZZZ" in unknown.json()["message"]
    for bad in ({}, {"tickers": []}, {"tickers": "AAPL"}, [1, 2]):
        response = trained.post("/api/ml/predict", json=bad)
        assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    malformed = trained.post(
        "/api/ml/predict", content=b"not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "bad_request"


def test_predict_without_a_model_is_404(client):
    response = client.post("/api/ml/predict", json={"tickers": [SMALL[0]]})
    assert response.status_code == 404


def test_health(trained):
    health = trained.get("/health").json()
    assert health["status"] == "ok" and health["model_loaded"] is True


def metric(client, name):
    text = client.get("/metrics").text
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_move_after_retrain_and_rollback(client):
    deployed = 'trading_engine_retrain_runs_total{outcome="deployed"}'
    before_runs, before_rollbacks = (
        metric(client, deployed),
        metric(client, "trading_engine_rollbacks_total"),
    )
    for _ in range(2):
        wait_for_job(client, client.post("/api/ml/retraining/trigger?force=true").json()["job_id"])
    client.post("/api/ml/retraining/rollback")
    client.post("/api/ml/predict", json={"tickers": ["AAPL"]})
    assert metric(client, deployed) == before_runs + 2
    assert metric(client, "trading_engine_rollbacks_total") == before_rollbacks + 1
    assert metric(client, 'trading_engine_model_metric{metric="f1_score"}') > 0
    assert metric(client, "trading_engine_last_successful_retrain_timestamp_seconds") > 1.7e9
    assert metric(client, "trading_engine_predictions_total") >= 1
    assert "trading_engine_prediction_latency_seconds_bucket" in client.get("/metrics").text


def test_writes_need_the_token_when_one_is_set(make_client):
    token = "s3cret-s3cret-s3cret"
    client = make_client(api_token=token)
    assert client.post("/api/ml/retraining/trigger").status_code == 401
    wrong = client.post("/api/ml/retraining/rollback", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "API token" in wrong.json()["message"]
    assert client.get("/api/ml/retraining/status").status_code == 200  # reads stay open
    ok = client.post("/api/ml/retraining/trigger", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 202
    wait_for_job(client, ok.json()["job_id"])


def test_non_loopback_bind_without_token_is_refused():
    settings = load_settings()
    check_bind(settings, "127.0.0.1")
    check_bind(settings, "::1")
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without an API token"):
        check_bind(settings, "0.0.0.0")
    check_bind(load_settings(server={"api_token": "a-long-enough-token"}), "0.0.0.0")


def test_lifespan_starts_and_stops_the_scheduler(make_client):
    client = make_client(start_scheduler=True)
    service = client.app.state.service
    assert service.scheduler.running
    jobs = {job["id"] for job in client.get("/api/ml/retraining/status").json()["scheduled_jobs"]}
    assert {"daily_retrain", "weekly_full_retrain"} <= jobs
    client.__exit__(None, None, None)
    assert not service.scheduler.running


def test_scheduler_failure_is_logged_and_the_api_still_serves(tmp_path, caplog):
    from fastapi.testclient import TestClient

    from tests.api.conftest import small_settings
    from trading_engine.model_retraining import ModelRetrainingService
    from trading_engine.server import create_app

    service = ModelRetrainingService(small_settings(tmp_path))

    def broken(**kwargs):
        raise RuntimeError("no scheduler today")

    service.start_scheduler = broken
    with TestClient(create_app(service)) as client:
        assert client.get("/health").status_code == 200
    assert "Failed to start retraining scheduler: no scheduler today" in caplog.text
