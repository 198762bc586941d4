"""Every model knows its data; findings, staleness and unchanged data reach the user."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.conftest import TODAY, demo_histories, write_market
from trading_engine import cli
from trading_engine.config import get_settings, load_settings
from trading_engine.model_retraining import ModelRetrainingService


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def folder_service(tmp_path, folder, clock=None, **retraining):
    settings = load_settings(
        data={"provider": "csv", "folder": folder, "demo_end": str(TODAY)},
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        retraining={"bootstrap_samples": 100, "schedule": {"timezone": "UTC"}, **retraining},
    )
    return ModelRetrainingService(settings, clock=clock or FixedClock(NOW))


@pytest.fixture
def market(tmp_path):
    histories = demo_histories(n_tickers=5, n_days=700, seed=7)  # a learnable holdout
    folder = write_market(tmp_path / "market", histories)
    (folder / "BROKEN.csv").write_text("Date,Close\nnot-a-date,1\n")
    return folder


def test_a_model_records_its_data_and_the_findings_that_shaped_it(tmp_path, market):
    service = folder_service(tmp_path, market)
    run = service.run_retrain(force=True)
    assert run.outcome == "deployed"
    assert run.data.provider == "csv" and run.data.folder == str(market.resolve())
    assert run.data.tickers == ["T00", "T01", "T02", "T03", "T04"]
    assert run.data.last_date == str(TODAY) and len(run.data.fingerprint) == 16
    assert [f.source for f in run.findings] == ["BROKEN.csv"]
    assert run.findings[0].action == "file skipped"
    metadata = service.production_model().metadata["data_source"]
    assert metadata["folder"] == str(market.resolve()) and metadata["tickers"] == run.data.tickers
    assert service.registry.versions()[0].data.fingerprint == run.data.fingerprint
    recorded = service.registry.last_run()
    assert recorded.findings == run.findings and recorded.data == run.data


def test_predict_follows_the_models_data_and_warns_when_stale(tmp_path, market):
    service = folder_service(tmp_path, market)
    assert service.run_retrain(force=True).outcome == "deployed"
    fresh = service.predictor().predict(["T01"])[0]
    assert fresh.as_of == str(TODAY) and not fresh.stale and fresh.warning is None
    later = folder_service(tmp_path, market, clock=FixedClock(datetime(2027, 1, 29, tzinfo=UTC)))
    later.settings = later.settings.model_copy(
        update={"data": later.settings.data.model_copy(update={"provider": "demo"})}
    )
    old = later.predictor().predict(["T01"])[0]  # still the model's folder, not the demo
    assert old.stale and "business days before 2027-01-29" in old.warning
    with pytest.raises(Exception, match="unknown ticker"):
        later.predictor().predict(["AAPL"])


def test_a_scheduled_run_on_unchanged_data_is_skipped_and_alerted_once(tmp_path, market, caplog):
    caplog.set_level("INFO", logger="trading_engine")
    service = folder_service(tmp_path, market)
    assert service.run_retrain(force=True).outcome == "deployed"
    first = service.run_retrain(trigger="scheduled-daily")
    assert first.outcome == "skipped" and "no new data" in first.reason
    second = service.run_retrain(trigger="scheduled-daily")
    assert second.outcome == "skipped"
    alerts = (tmp_path / "models" / "alerts.log").read_text()
    assert alerts.count("Scheduled Retrain Skipped") == 1
    manual = service.run_retrain(force=True)
    assert manual.outcome == "deployed"  # a person asked: it trains on the same data anyway
    (market / "T00.csv").write_text((market / "T00.csv").read_text().rsplit("\n", 2)[0] + "\n")
    changed = service.run_retrain(trigger="scheduled-daily", force=True)
    assert changed.outcome == "deployed"
    assert caplog.text.count(": skipped (") == 2 and caplog.text.count(": deployed (") == 3


def test_a_rejection_says_in_words_what_the_candidate_did(tmp_path, market):
    service = folder_service(tmp_path, market, min_accuracy=0.99)
    run = service.run_retrain()
    assert run.outcome == "rejected"
    failed = run.reason.split(": ")[1].split(", ")  # "failed gate(s): a, b: in words..."
    assert run.reason.startswith("failed gate(s): ") and "min_accuracy" in failed
    assert "it predicts up for" in run.reason and "for always-up" in run.reason
    assert "of training labels were up" in run.reason and "AUC" in run.reason
    assert "expected by guessing up as often at random (p " in run.reason
    forced = service.run_retrain(force=True)
    assert f"failed gate(s) {', '.join(failed)} overridden" in forced.reason


def test_the_cli_shows_findings_data_and_fits_80_columns(tmp_path, market, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TRADING_ENGINE_DATA__DEMO_END", str(TODAY))
    monkeypatch.setenv("TRADING_ENGINE_RETRAINING__BOOTSTRAP_SAMPLES", "100")
    get_settings.cache_clear()
    try:
        assert cli.run(["retrain", "--data", str(market), "--force"]) == 0
        out = capsys.readouterr().out
        assert out.index("Data findings that shaped this run") < out.index("Holdout metrics")
        assert "BROKEN.csv" in out and f"data: folder {market.resolve()}" in out
        assert cli.run(["info", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["data"]["folder"] == str(market.resolve())
        assert cli.run(["predict", "T02", "--json"]) == 0  # not in the configured demo market
        assert json.loads(capsys.readouterr().out)[0]["ticker"] == "T02"
        for command in (["history"], ["models"]):
            assert cli.run(command) == 0
            lines = capsys.readouterr().out.splitlines()
            assert max(len(line) for line in lines) <= 80, "\n".join(lines)
            version = json.loads((tmp_path / "models" / "training_metrics.json").read_text())[
                "version"
            ]
            assert any(version in line for line in lines)  # an id is never split
    finally:
        get_settings.cache_clear()


def test_fingerprint_changes_with_any_bar(tmp_path):
    from trading_engine.data import MarketData, QualityReport

    histories = demo_histories(n_tickers=2, n_days=300)
    market = MarketData(histories, QualityReport())
    same = MarketData(dict(histories), QualityReport())
    assert market.fingerprint() == same.fingerprint()
    ticker = next(iter(histories))
    history = histories[ticker]
    close = history.close.copy()
    close[10] *= 1.0001
    changed = dict(histories)
    changed[ticker] = type(history)(
        ticker, history.dates, history.open, history.high, history.low, close, history.volume
    )
    assert MarketData(changed, QualityReport()).fingerprint() != market.fingerprint()
    assert np.all(history.close == histories[ticker].close)
