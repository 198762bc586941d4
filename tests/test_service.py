"""ModelRetrainingService: retrain, reject, rollback, jobs, scheduler, alerts, webhook."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from tests.conftest import TODAY
from tests.training.test_trainer import random_walk_folder
from trading_engine.alerts import Alerts, FileAlertSink, WebhookAlertSink
from trading_engine.config import load_settings
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.records import RunRecord
from trading_engine.training.model import decode_model


def make_service(tmp_path, clock=None, **data):
    settings = load_settings(
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        data={"demo_end": str(TODAY), **data},
        retraining={"schedule": {"timezone": "UTC"}},
    )
    return ModelRetrainingService(settings, **({"clock": clock} if clock else {}))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A service whose demo retrain deployed one model (shared: retraining takes seconds)."""
    service = make_service(tmp_path_factory.mktemp("svc"))
    assert service.retrain_model() is True
    return service


def test_retrain_on_the_demo_market_deploys(deployed):
    status = deployed.get_status()
    assert status["model_path"].endswith("models/prod_model.bin")
    assert status["backup_path"].endswith("models/backup_model.bin")
    assert status["current_metrics"]["f1_score"] > 0.65
    assert set(status) >= {"running", "current_metrics", "next_retraining", "scheduled_jobs"}
    last = deployed.registry.last_run()
    assert last.outcome == "deployed" and last.samples > 50_000
    alerts = (deployed.registry.models_dir / "alerts.log").read_text()
    assert "Model Retraining Success" in alerts and "✅ New model deployed successfully!" in alerts
    assert "Training Samples: " in alerts and "- F1 Score:  0." in alerts


@pytest.mark.slow
def test_pure_noise_market_is_rejected_and_the_old_model_kept(tmp_path):
    service = make_service(tmp_path)
    assert service.retrain_model() is True
    kept = service.get_status()["production_version"]
    folder = random_walk_folder(tmp_path / "noise")
    noisy = ModelRetrainingService(
        service.settings.model_copy(
            update={
                "data": service.settings.data.model_copy(
                    update={"provider": "csv", "folder": folder}
                )
            }
        )
    )
    assert noisy.retrain_model() is False
    assert noisy.get_status()["production_version"] == kept
    last = noisy.registry.last_run()
    assert last.outcome == "rejected" and "min_accuracy" in last.reason
    alerts = (tmp_path / "models" / "alerts.log").read_text()
    assert "Model Validation Failed" in alerts or "Model Performance Degradation" in alerts
    assert "- min_accuracy: " in alerts and "Production model kept." in alerts


def test_force_deploys_a_failing_model_and_records_it(tmp_path):
    service = make_service(tmp_path)
    strict = service.settings.retraining.model_copy(update={"min_accuracy": 0.99})
    service.settings = service.settings.model_copy(update={"retraining": strict})
    assert service.retrain_model() is False
    assert service.retrain_model(force=True) is True
    last = service.registry.last_run()
    assert last.forced is True and "min_accuracy" in last.reason  # the gate it overrode
    assert service.registry.deployments()[-1].forced is True
    alerts = (tmp_path / "models" / "alerts.log").read_text()
    assert "deployed by force: failed gate(s) min_accuracy" in alerts


def test_rollback_is_recorded_and_alerted(deployed):
    first = deployed.get_status()["production_version"]
    assert deployed.retrain_model(force=True)
    second = deployed.get_status()["production_version"]
    result = deployed.rollback()
    assert result.success and result.version == first and result.previous_version == second
    assert deployed.rollback(second).version == second
    kinds = [d.kind for d in deployed.registry.deployments()]
    assert kinds[-2:] == ["rollback", "rollback"]
    assert "🔄 Rolled back from" in (deployed.registry.models_dir / "alerts.log").read_text()


def test_corrupt_production_is_served_from_its_version_file_then_repaired(deployed):
    deployed.retrain_model(force=True)
    production = deployed.get_status()["production_version"]
    good = deployed.registry.prod_path.read_bytes()
    deployed.registry.prod_path.write_bytes(b"trading-engine model v1\n{}\nbroken")
    assert deployed.production_model().version == production
    alerts = (deployed.registry.models_dir / "alerts.log").read_text()
    assert "Production Model Unreadable" in alerts
    deployed.recover()  # what the server does at start-up; every lock holder does the same
    assert deployed.registry.prod_path.read_bytes() == good
    assert "Model Store Repaired" in (deployed.registry.models_dir / "alerts.log").read_text()
    assert list((deployed.registry.models_dir / "quarantine").iterdir())


def test_data_errors_end_as_a_failed_run_with_an_alert(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    service = make_service(tmp_path, provider="csv", folder=empty)
    assert service.retrain_model() is False
    last = service.registry.last_run()
    assert last.outcome == "failed" and "only 0 usable ticker(s)" in last.reason
    assert "💥 Retraining failed: only 0 usable" in (tmp_path / "models" / "alerts.log").read_text()


def test_background_job_state_is_persisted(tmp_path):
    service = make_service(tmp_path)
    job = service.start_retrain_job()
    assert job.job_id.startswith("retrain_") and job.status == "queued"
    service.runner.wait(120)
    finished = service.get_job(job.job_id)
    assert finished.status == "succeeded" and finished.version
    assert not service.is_running  # the lock was released before "succeeded" was written
    again = ModelRetrainingService(service.settings)  # a new process would see the same
    assert again.get_job(job.job_id).status == "succeeded"
    assert again.registry.last_run().job_id == job.job_id


TWO_RETRAINS = textwrap.dedent("""
    import sys
    from trading_engine.config import load_settings
    from trading_engine.errors import AlreadyRunning
    from trading_engine.model_retraining import ModelRetrainingService
    settings = load_settings(paths={"models_dir": sys.argv[1]}, data={"demo_end": "2026-11-24"})
    try:
        print("deployed" if ModelRetrainingService(settings).retrain_model() else "rejected")
    except AlreadyRunning as error:
        print("already running:", error)
""")


@pytest.mark.slow
def test_two_processes_retraining_at_once_give_one_run(tmp_path):
    models = tmp_path / "models"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_RETRAINS, str(models)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(child.communicate(timeout=300)[0].strip() for child in children)
    assert outputs[0].startswith("already running:") and outputs[1] == "deployed", outputs
    record = json.loads((models / "training_metrics.json").read_text())
    assert len(record["history"]) == 1 and record["history_total"] == 1


class FakeClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_missed_2am_run_is_caught_up_once(tmp_path):
    monday = datetime(2026, 11, 23, 2, 0, 5, tzinfo=UTC)
    clock = FakeClock(monday)
    service = make_service(tmp_path, clock=clock)
    service.registry.save_run(
        RunRecord(run_id="r1", started_at=monday.isoformat(), outcome="deployed")
    )
    clock.now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert service.missed_run() is None  # nothing was due since Monday 02:00
    clock.now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # off on Tuesday and Wednesday 2 AM
    assert service.missed_run() == "daily"
    service.start_scheduler(paused=True)
    try:
        jobs = {job.id: job for job in service.scheduler.get_jobs()}
        assert set(jobs) == {
            "daily_retrain",
            "weekly_full_retrain",
            "catch_up_retrain",
            "daily_monitoring",
        }
        assert all(job.coalesce for job in jobs.values())
        assert jobs["daily_retrain"].misfire_grace_time == 6 * 3600
        status = service.get_status()
        assert {j["id"] for j in status["scheduled_jobs"]} == set(jobs)
    finally:
        service.stop_scheduler()
    clock.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Sunday 3 AM passed too: full retrain
    assert service.missed_run() == "full"


def test_catch_up_run_really_runs_once(tmp_path):
    last = datetime.now(UTC) - timedelta(days=2)
    service = make_service(tmp_path)
    service.registry.save_run(
        RunRecord(run_id="r1", started_at=last.isoformat(), outcome="deployed")
    )
    service.start_scheduler()
    try:
        deadline = time.time() + 120
        while service.registry.history()[0] < 2 and time.time() < deadline:
            time.sleep(0.2)
        service.runner.wait(120)
    finally:
        service.stop_scheduler()
    total, runs = service.registry.history()
    assert total == 2  # one catch-up run, however many were missed
    assert runs[0].trigger in ("scheduled-daily", "scheduled-weekly")


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received, Receiver.fail_first = [], 0
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_webhook_gets_json_with_text_and_retries(webhook_server, tmp_path):
    Receiver.fail_first = 1
    alerts = Alerts(
        [
            FileAlertSink(tmp_path / "alerts.log"),
            WebhookAlertSink(webhook_server, retries=2, backoff=0.01),
        ]
    )
    alerts.send("Model Rollback", "🔄", "Rolled back.", ["Reason: test"])
    assert len(Receiver.received) == 1
    assert Receiver.received[0]["text"].endswith("🔄 Rolled back.\n\nReason: test\n")
    assert "Model Rollback" in (tmp_path / "alerts.log").read_text()


def test_failing_webhook_is_logged_never_raised(tmp_path, caplog):
    closed = WebhookAlertSink("http://127.0.0.1:9/closed", retries=1, backoff=0.01, timeout=1)
    alerts = Alerts([closed, FileAlertSink(tmp_path / "alerts.log")])
    alerts.send("Model Retraining Success", "✅", "ok")
    assert "webhook http://127.0.0.1:9/closed failed after 2 attempt(s)" in caplog.text
    assert "Model Retraining Success" in (tmp_path / "alerts.log").read_text()


def test_process_service_logs_to_logs_app_log(tmp_path, monkeypatch):
    import trading_engine.model_retraining as module
    from trading_engine.config import get_settings

    monkeypatch.setenv("TRADING_ENGINE_PATHS__MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRADING_ENGINE_PATHS__LOGS_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("TRADING_ENGINE_DATA__DEMO_END", str(TODAY))
    get_settings.cache_clear()
    monkeypatch.setattr(module, "_service", None)
    try:
        service = module.get_retraining_service()
        assert module.get_retraining_service() is service  # one per process
        empty = tmp_path / "none"
        empty.mkdir()
        service.settings = service.settings.model_copy(
            update={
                "data": service.settings.data.model_copy(
                    update={"provider": "csv", "folder": empty}
                )
            }
        )
        service.retrain_model()
        assert (
            "retrain failed: only 0 usable ticker(s)" in (tmp_path / "logs" / "app.log").read_text()
        )
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_weekly_run_tunes_and_the_daily_run_reuses_the_parameters(tmp_path):
    service = make_service(tmp_path)
    retraining = service.settings.retraining.model_copy(
        update={"tuning": service.settings.retraining.tuning.model_copy(update={"n_trials": 2})}
    )
    service.settings = service.settings.model_copy(update={"retraining": retraining})
    weekly = service.run_retrain(full=True, force=True)
    tuned = json.loads((tmp_path / "models" / "tuned_params.json").read_text())["params"]
    assert weekly.full is True and set(tuned) >= {"learning_rate", "num_leaves"}
    daily = service.run_retrain(force=True)
    stored = decode_model(service.registry.verified_bytes(daily.version).data, "daily").model
    assert stored.params["num_leaves"] == tuned["num_leaves"]
    assert stored.params["learning_rate"] == tuned["learning_rate"]


def test_a_scheduled_run_while_another_runs_is_skipped(tmp_path, caplog):
    import logging

    service = make_service(tmp_path)
    held = service.registry.acquire()
    try:
        with caplog.at_level(logging.INFO, logger="trading_engine"):
            service._scheduled(full=False)
    finally:
        held.release()
    assert "scheduled-daily retrain skipped: another retrain is running" in caplog.text
    assert service.registry.history() == (0, [])
