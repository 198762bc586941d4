"""Every command of the ``trading-engine`` entry point, as a user would run it."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.api.conftest import SMALL
from tests.helpers import ENTRY_POINT, free_port, run_cli, wait_until_serving


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working folder whose models/ holds one model deployed by `demo` on a small market."""
    folder = tmp_path_factory.mktemp("cli")
    result = run_cli("demo", cwd=folder, env=SMALL_ENV)
    assert result.returncode == 0, result.stderr
    assert "deployed as version" in result.stdout and "min_f1_score" in result.stdout
    return folder


SMALL_ENV = {
    "TRADING_ENGINE_MARKET__DEFAULT_STOCKS": json.dumps(SMALL),
    "TRADING_ENGINE_DATA__DEMO_DAYS": "900",
    "TRADING_ENGINE_RETRAINING__SCHEDULE__TIMEZONE": "UTC",
}


def cli(workdir, *args, env=None):
    return run_cli(*args, cwd=workdir, env={**SMALL_ENV, **(env or {})})


def test_status_info_history_models_read_commands(workdir):
    assert "production version: 2" in cli(workdir, "status").stdout
    status = json.loads(cli(workdir, "status", "--json").stdout)
    assert status["model_path"] == "models/prod_model.bin" and status["current_metrics"]["f1_score"]
    info = json.loads(cli(workdir, "info", "--json").stdout)
    assert info["feature_count"] == 9
    history = json.loads(cli(workdir, "history", "--json").stdout)
    assert history["total"] >= 1 and history["items"][0]["outcome"] == "deployed"
    assert "Retrain history" in cli(workdir, "history").stdout
    versions = json.loads(cli(workdir, "models", "--json").stdout)
    assert versions[0]["role"] == "production"


def test_retrain_force_then_rollback(workdir):
    forced = cli(workdir, "retrain", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    run = json.loads(forced.stdout)
    assert run["outcome"] == "deployed" and run["forced"] is True
    back = cli(workdir, "rollback", "--json")
    assert back.returncode == 0 and json.loads(back.stdout)["previous_version"] == run["version"]
    bad = cli(workdir, "rollback", "--to", "20990101_000000")
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr


def test_rejected_retrain_exits_1(workdir):
    result = cli(workdir, "retrain", env={"TRADING_ENGINE_RETRAINING__MIN_ACCURACY": "0.99"})
    assert result.returncode == 1
    assert "rejected" in result.stdout and "min_accuracy" in result.stdout


def test_retrain_from_a_data_folder_that_is_missing_is_a_usage_error(workdir):
    result = cli(workdir, "retrain", "--data", str(workdir / "nope"))
    assert result.returncode == 2 and "(--data) does not exist" in result.stderr


def test_predict_and_schedule(workdir):
    table = cli(workdir, "predict", "AAPL", "msft")
    assert table.returncode == 0 and "MSFT" in table.stdout
    predictions = json.loads(cli(workdir, "predict", "NVDA", "--json").stdout)
    assert predictions[0]["ticker"] == "NVDA" and 0 <= predictions[0]["probability_up"] <= 1
    unknown = cli(workdir, "predict", "ZZZZ")
    assert unknown.returncode == 2 and "unknown ticker(s): ZZZZ" in unknown.stderr
    schedule = json.loads(cli(workdir, "schedule", "--json").stdout)
    assert schedule["daily_retrain"].endswith("02:00:00+00:00")
    assert schedule["weekly_full_retrain"].endswith("03:00:00+00:00")


def test_serve_answers_the_seeds_curl_examples(workdir):
    port = free_port()
    env = {**__import__("os").environ, **SMALL_ENV, "TRADING_ENGINE_DATA__DEMO_END": "2026-11-24"}
    server = subprocess.Popen(
        [str(ENTRY_POINT), "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, server)
        status = httpx.get(f"{base}/api/ml/retraining/status").json()
        assert status["running"] is True  # the scheduler runs inside the server
        trigger = httpx.post(f"{base}/api/ml/retraining/trigger")
        assert trigger.status_code == 202 and trigger.json()["status"] == "started"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (workdir / "logs" / "app.log").exists()


def test_serve_refuses_a_public_address_without_token(workdir):
    result = cli(workdir, "serve", "--host", "0.0.0.0")
    assert result.returncode == 2 and "without an API token" in result.stderr


def test_usage_error_exit_2_without_traceback(workdir):
    result = cli(workdir, "retrain", "--frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ENTRY_POINT.exists()
