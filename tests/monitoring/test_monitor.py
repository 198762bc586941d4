"""Live monitoring through the real service under an injected clock: the prediction log,
outcomes h days later, realised metrics against a hand computation, drift, every policy once.

The market is the demo generator, prefix-stable (a later day's market extends an earlier one
without rewriting it), loaded as of the service's clock, with ONE regime change, on
2026-06-10: a trend before, a reversal with 1.8x the noise after. The built-in demo changes
regime every 12-18 months, so any 700-day training window spans two regimes and differs from
every month of either: drift is then always "on", and the story below could not be told.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import roc_auc_score

from trading_engine.config import load_settings
from trading_engine.data import DemoMarket, MarketData
from trading_engine.data.demo import ORIGIN
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.monitoring import policies
from trading_engine.server import create_app
from trading_engine.store.predictions import PredictionLog

TICKERS = [f"T{i:02d}" for i in range(30)]
DEMO_DAYS = 700
REGIME = np.datetime64("2026-06-10")
MARKET = DemoMarket(
    n_days=DEMO_DAYS,
    first_regime_days=int(np.busday_count(ORIGIN, REGIME)),
    regime_days=(100_000, 100_000),  # no second change
)
BEFORE_REGIME = datetime(2026, 5, 1, 22, 30, tzinfo=UTC)  # a Friday, 6 weeks before it
FULL = MARKET.generate(TICKERS, today=np.datetime64("2026-11-24"))  # for hand checks


def one_change_market(settings, today, *, tickers=None) -> MarketData:
    """The loader: the market as of ``today`` (or ``data.demo_end``: a feed not refreshed)."""
    end = np.datetime64(settings.data.demo_end) if settings.data.demo_end else today
    return MARKET.generate(list(tickers or TICKERS), today=end)


class Clock:
    """The service's clock: moved by the test, never by the wall."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def next_business_day(self) -> None:
        self.now += timedelta(days=1)
        while self.now.weekday() >= 5:
            self.now += timedelta(days=1)


def make_service(
    tmp_path, clock, *, load=None, demo_end=None, retraining=None, **monitoring
) -> ModelRetrainingService:
    """The real service on the one-change market as of its clock (or ending at ``demo_end``:
    a feed nobody refreshed)."""
    settings = load_settings(
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        market={"default_stocks": TICKERS},
        data={"demo_days": DEMO_DAYS, "demo_end": demo_end},
        retraining={
            "bootstrap_samples": 100,
            "schedule": {"timezone": "UTC"},
            **(retraining or {}),
        },
        monitoring=monitoring,
    )
    return ModelRetrainingService(settings, clock=clock, load=load or one_change_market)


def log_rows(service) -> list[tuple]:
    with service.registry.db.reading() as connection:
        return connection.execute(
            "SELECT version, ticker, as_of, source, role, probability, origin, up "
            "FROM predictions ORDER BY as_of, ticker, version"
        ).fetchall()


def test_logging_outcomes_and_realised_metrics_match_a_hand_computation(tmp_path):
    clock = Clock(BEFORE_REGIME)
    service = make_service(tmp_path, clock)
    assert service.run_retrain().outcome == "deployed"
    version = service.registry.production_version()
    # A deploy logs once: production on every ticker's newest bar (no backup yet: no shadow).
    rows = log_rows(service)
    assert len(rows) == len(TICKERS)
    assert {(r[0], r[2], r[3], r[4], r[6]) for r in rows} == {
        (version, "2026-05-01", "live", "production", "deploy")
    }
    first = service.run_monitoring("scheduled")
    assert first["logged"] == 0  # the same (version, ticker, as-of): logged once
    assert first["outcomes_joined"] == 0 and first["by_version"] == {}
    days = []
    for _ in range(7):
        clock.next_business_day()
        days.append(str(clock().date()))
        report = service.run_monitoring("scheduled")
        assert report["logged"] == len(TICKERS)
    # The 2026-05-01 predictions learn their outcome on the 5th business day after it, and so
    # on: after 7 more days, 3 dates of predictions are scored.
    rows = log_rows(service)
    scored = [r for r in rows if r[7] is not None]
    assert {r[2] for r in scored} == {"2026-05-01", days[0], days[1]}
    assert all(r[7] is None for r in rows if r[2] not in {"2026-05-01", days[0], days[1]})
    # The hand computation: close[t + 5] > close[t] from the market itself.
    up, probability = [], []
    for _, ticker, as_of, *_rest, p_logged in [(*r[:5], r[5]) for r in scored]:
        history = FULL.histories[ticker]
        index = int(np.flatnonzero(history.dates == np.datetime64(as_of))[0])
        up.append(float(history.close[index + 5] > history.close[index]))
        probability.append(p_logged)
    up_arr, p_arr = np.array(up), np.array(probability)
    assert [r[7] for r in scored] == up
    figures = report["by_version"][version]
    assert figures["rows"] == 3 * len(TICKERS) and figures["dates"] == 3
    assert figures["accuracy"] == pytest.approx(np.mean((p_arr > 0.5) == (up_arr == 1)), abs=1e-6)
    assert figures["roc_auc"] == pytest.approx(roc_auc_score(up_arr, p_arr), abs=1e-6)
    assert figures["brier"] == pytest.approx(np.mean((p_arr - up_arr) ** 2), abs=1e-6)
    assert figures["up_rate"] == pytest.approx(up_arr.mean(), abs=1e-6)
    assert figures["edge_vs_always_up"] == pytest.approx(
        figures["accuracy"] - up_arr.mean(), abs=1e-6
    )
    base = service.registry.production_metrics()["train_base_rate"]
    majority = np.mean((up_arr == 1) == (base >= 0.5))
    assert figures["edge_vs_training_majority"] == pytest.approx(
        figures["accuracy"] - majority, abs=1e-6
    )
    assert report["windows"]["21"]["rows"] == 3 * len(TICKERS)
    assert [point["as_of"] for point in report["series"]] == ["2026-05-01", days[0], days[1]]
    # Each date's own accuracy and AUC, by hand.
    on = np.array([r[2] for r in scored])
    for point in report["series"]:
        mask = on == point["as_of"]
        assert point["production_accuracy"] == pytest.approx(
            np.mean((p_arr[mask] > 0.5) == (up_arr[mask] == 1)), abs=1e-6
        )
        assert point["production_auc"] == pytest.approx(
            roc_auc_score(up_arr[mask], p_arr[mask]), abs=1e-6
        )
        assert point["shadow_accuracy"] is None and point["shadow_auc"] is None  # no backup
    # The claim: the deploy-time holdout accuracy beside what was realised.
    assert report["claim"]["claimed_accuracy"] == pytest.approx(
        service.registry.production_metrics()["accuracy"], abs=1e-6
    )
    # The same market: no drift, fresh data, no action.
    assert report["drift"]["drift"] is False and report["drift"]["drifted_features"] <= 1
    assert report["freshness"] == {
        "newest_bar": days[-1],
        "today": days[-1],
        "age_days": 0,
        "stale": False,
    }
    assert report["actions"] == []
    # Per-version report and a backfill, kept apart from live rows.
    single = service.monitor.version_report(version)
    assert single["live"]["rows"] == 3 * len(TICKERS) and single["backfill"]["rows"] == 0
    done = service.monitor.backfill("2026-01-01")
    label_end = np.datetime64(service.production_model().model.label_end)
    assert done["from"][version] == str(label_end + 1)  # never on rows it learned from
    single = service.monitor.version_report(version)
    assert single["backfill"]["rows"] > 0 and single["live"]["rows"] == 3 * len(TICKERS)
    assert service.monitor.realised_report()["by_version"][version]["rows"] == 3 * len(TICKERS)


def test_served_predictions_are_logged_once_and_the_api_reports(tmp_path):
    clock = Clock(BEFORE_REGIME)
    service = make_service(tmp_path, clock)
    app = create_app(service, start_scheduler=False)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        empty = client.get("/api/ml/monitoring").json()
        assert empty["empty"] is True and "no predictions logged yet" in empty["message"]
        assert empty["counts"]["live"] == 0 and empty["events"] == []
        missing = client.get("/api/ml/monitoring/20250101_000000")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert client.get("/api/ml/monitoring/not-a-version").status_code == 422
        assert service.run_retrain().outcome == "deployed"
        version = service.registry.production_version()
        clock.next_business_day()
        answer = client.post("/api/ml/predict", json={"tickers": ["T01", "T02"]})
        assert answer.status_code == 200
        served = [r for r in log_rows(service) if r[6] == "api"]
        assert [(r[1], r[2]) for r in served] == [("T01", "2026-05-04"), ("T02", "2026-05-04")]
        client.post("/api/ml/predict", json={"tickers": ["T01"]})  # the same row again
        assert len([r for r in log_rows(service) if r[6] == "api"]) == 2
        service.run_monitoring()
        body = client.get("/api/ml/monitoring").json()
        assert body["empty"] is False and body["production_version"] == version
        assert body["counts"]["live"] == 2 * len(TICKERS)  # the deploy's day and today's
        assert body["drift"]["reference_end"] == service.production_model().model.train_end
        one = client.get(f"/api/ml/monitoring/{version}").json()
        assert one["version"] == version and one["claim"]["accuracy"] is not None
        metrics = client.get("/metrics").text
        assert "trading_engine_drift_max_psi " in metrics
        assert "trading_engine_data_age_days 0.0" in metrics


def test_monitor_json_has_a_clear_empty_state(cli_run):
    code, out, _ = cli_run("monitor", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["empty"] is True and payload["production_version"] is None
    assert "monitor --run" in payload["message"]
    code, out, _ = cli_run("monitor")
    assert code == 0 and "no predictions logged yet" in out
    code, _, err = cli_run("monitor", "--since", "yesterday")
    assert code == 2 and "expected a date like 2026-01-31" in err


@pytest.mark.slow
def test_drift_after_the_regime_change_retrains_once_through_the_gates(tmp_path):
    clock = Clock(BEFORE_REGIME)
    service = make_service(tmp_path, clock, compare_claim=False)
    assert service.run_retrain().outcome == "deployed"
    before = service.registry.production_version()
    clock.now = datetime(2026, 7, 15, 22, 30, tzinfo=UTC)  # 5 weeks after the regime change
    report = service.run_monitoring("scheduled")
    drift = report["drift"]
    assert drift["drift"] is True and drift["max_psi"] > 0.2
    assert {"Volatility", "RSI"} <= {f["feature"] for f in drift["features"] if f["drifted"]}
    [action] = report["actions"]
    assert action["kind"] == policies.DRIFT_RETRAIN and action["retrain"] in (
        "deployed",
        "rejected",
    )
    _, runs = service.registry.history(limit=1)
    assert runs[0].trigger == "drift" and runs[0].gates is not None  # every gate ran
    # At most one a day: the same day again measures, and does not retrain.
    again = service.run_monitoring("scheduled")
    assert again["actions"] == []
    assert service.registry.history(limit=1)[1][0].run_id == runs[0].run_id
    events = PredictionLog(service.registry.db).events(kind=policies.DRIFT_RETRAIN)
    assert len(events) == 1 and events[0].body["run_id"] == runs[0].run_id
    if action["retrain"] == "deployed":
        assert service.registry.production_version() != before


@pytest.mark.slow
def test_stale_data_alerts_pauses_scheduled_retrains_and_resumes(tmp_path):
    clock = Clock(BEFORE_REGIME)
    service = make_service(tmp_path, clock, demo_end="2026-05-01", drift_retrain=False)
    assert service.run_retrain().outcome == "deployed"
    for _ in range(4):
        clock.next_business_day()
    report = service.run_monitoring("scheduled")
    assert report["freshness"]["stale"] is True and report["freshness"]["age_days"] == 4
    [action] = report["actions"]
    assert action["kind"] == policies.STALE_DATA and action["day"] == "2026-05-01"
    log = PredictionLog(service.registry.db)
    assert log.paused_at() == "2026-05-01"
    runs_before = service.registry.history()[0]
    service._scheduled(full=False)  # the daily retrain's job: paused, nothing started
    service.runner.wait(30)
    assert service.registry.history()[0] == runs_before
    clock.next_business_day()
    assert service.run_monitoring("scheduled")["actions"] == []  # alerted once per newest bar
    alerts = (tmp_path / "models" / "alerts.log").read_text()
    assert alerts.count("stale data: the newest bar (2026-05-01)") == 1
    # New data arrives (the feed is refreshed): retrains resume.
    data = service.settings.data.model_copy(update={"demo_end": None})
    service.settings = service.settings.model_copy(update={"data": data})
    resumed = service.run_monitoring("scheduled")
    assert [a["kind"] for a in resumed["actions"]] == [policies.RESUMED]
    assert log.paused_at() is None


def noise_loader(settings, today, *, tickers=None) -> MarketData:
    """A market with nothing to learn, on the same dates and tickers."""
    rng = np.random.default_rng(11)
    histories = {}
    for ticker, history in FULL.histories.items():
        cut = history.until(today)
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, len(cut))))
        histories[ticker] = type(cut)(
            ticker, cut.dates, close, close * 1.004, close * 0.996, close, cut.volume
        )
    return MarketData(histories, FULL.report)


@pytest.mark.slow
@pytest.mark.parametrize("auto_rollback", [True, False])
def test_a_bad_forced_deploy_worse_than_its_shadow(tmp_path, auto_rollback):
    clock = Clock(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))  # a Monday, mid-regime
    service = make_service(
        tmp_path, clock, auto_rollback=auto_rollback, drift_retrain=False, compare_claim=False
    )
    assert service.run_retrain().outcome == "deployed"
    good = service.registry.production_version()
    clock.now += timedelta(seconds=5)
    # A deliberately bad model, forced through the real path: trained on noise.
    forcing = ModelRetrainingService(service.settings, clock=clock, load=noise_loader)
    forced = forcing.run_retrain(force=True)
    assert forced.outcome == "deployed" and forced.forced
    bad = service.registry.production_version()
    assert bad != good
    fired = []
    for _ in range(40):
        clock.next_business_day()
        report = service.run_monitoring("scheduled")
        fired += report["actions"]
        if fired:
            break
    [action] = fired
    assert action["kind"] == policies.WORSE_THAN_SHADOW and action["version"] == bad
    comparison = report["comparison"]
    assert comparison["production_version"] == bad and comparison["shadow_version"] == good
    assert comparison["test"]["significant"] and comparison["test"]["p_value"] < 0.05
    assert comparison["production"]["rows"] == comparison["shadow"]["rows"]
    alerts = (tmp_path / "models" / "alerts.log").read_text()
    if auto_rollback:
        assert action["rolled_back"] is True and action["to_version"] == good
        assert service.registry.production_version() == good
        last = service.registry.deployments()[-1]
        assert last.kind == "rollback" and "significantly worse than its shadow" in last.reason
        assert "Monitoring Rollback" in alerts
    else:
        assert action["rolled_back"] is False
        assert service.registry.production_version() == bad
        assert "Monitoring Alert" in alerts
        clock.next_business_day()
        assert service.run_monitoring("scheduled")["actions"] == []  # once per version


@pytest.mark.slow
def test_the_story_accuracy_falls_after_the_regime_change_drift_retrains_and_it_recovers(tmp_path):
    """Daily monitoring from six weeks before the regime change to seventeen weeks after it.

    A retrain keeps its newest ``holdout_days`` (and early-stopping days) out of the deployed
    model's training rows; with the default 63 + 63 a model learns the new regime only months
    after it began. A month each lets the story fit in a test. The market profile: under the
    seed profile's conservative skill test and repeated testing, no post-change candidate of
    this small market passes, and production stays the pre-change model.
    """
    clock = Clock(BEFORE_REGIME)
    service = make_service(
        tmp_path,
        clock,
        retraining={"holdout_days": 21, "early_stopping_days": 21, "gate_profile": "market"},
        series_days=250,
        compare_claim=False,
    )
    assert service.run_retrain().outcome == "deployed"
    first = service.registry.production_version()
    drift_seen: dict[str, bool] = {}
    while clock().date().isoformat() < "2026-10-09":
        clock.next_business_day()
        report = service.run_monitoring("scheduled")
        drift_seen[str(clock().date())] = report["drift"]["drift"]
    # Drift: never before the change; seen within a month after it.
    assert not any(flag for day, flag in drift_seen.items() if day < str(REGIME))
    assert any(flag for day, flag in drift_seen.items() if str(REGIME) < day <= "2026-07-10")
    # The policy retrained out of cycle, and a retrain passed every gate and deployed.
    retrains = PredictionLog(service.registry.db).events(100, kind=policies.DRIFT_RETRAIN)
    assert retrains and all(event.day > str(REGIME) for event in retrains)
    deployed = [event for event in retrains if event.body["retrain"] == "deployed"]
    assert deployed, [event.body for event in retrains]
    _, runs = service.registry.history(limit=100, outcome="deployed")
    assert {run.trigger for run in runs} == {"manual", "drift"}
    assert all(run.gates.passed and not run.forced for run in runs if run.trigger == "drift")
    assert service.registry.production_version() != first
    # Realised accuracy of production, as logged day by day: high before, low after, back up.
    series = {p["as_of"]: p["production_accuracy"] for p in report["series"]}
    before = [a for day, a in series.items() if day < str(REGIME)]
    after_change = [a for day, a in series.items() if str(REGIME) <= day < deployed[0].day]
    recovered = [a for day, a in series.items() if day >= "2026-09-14"]
    assert np.mean(before) > 0.6 and np.mean(after_change) < 0.5 < np.mean(recovered)
    assert np.mean(recovered) > np.mean(after_change) + 0.15


def test_monitor_run_as_of_then_the_report(cli_run):
    env = {
        "MARKET__DEFAULT_STOCKS": "AAPL,MSFT,NVDA,AMZN,META",
        "DATA__DEMO_DAYS": "700",
        "RETRAINING__BOOTSTRAP_SAMPLES": "100",
    }
    assert cli_run("retrain", "--force", "--json", **env)[0] == 0
    code, out, _ = cli_run("monitor", "--run", "--as-of", "2026-11-25", "--json", **env)
    assert code == 0
    payload = json.loads(out)
    assert payload["empty"] is False and payload["at"] == "2026-11-25T22:30:00+00:00"
    assert payload["counts"]["live"] == 5 and payload["freshness"]["age_days"] == 1
    assert payload["drift"]["features"] and payload["snapshot_at"] == payload["at"]
    code, out, _ = cli_run("monitor", **env)
    assert code == 0 and "predictions logged: 5 live" in out and "Drift:" in out


def test_the_realised_table_fits_80_columns_with_the_newest_versions(capsys, monkeypatch):
    from trading_engine import cli

    metrics = {
        "rows": 62_500,
        "dates": 250,
        "accuracy": 0.5123,
        "roc_auc": 0.5234,
        "brier": 0.2499,
        "edge_vs_always_up": -0.0123,
        "edge_vs_training_majority": 0.0042,
        "pt_p_value": 0.3456,
    }
    versions = [f"202609{day:02d}_223000" for day in range(1, 11)]
    payload = {
        "production_version": versions[-1],
        "shadow_version": versions[0],
        "empty": False,
        "counts": {"live": 1, "with_outcome": 1, "pending": 0, "backfill": 0},
        "windows": {"21": metrics, "63": metrics},
        "by_version": dict.fromkeys(versions, metrics),
    }
    monkeypatch.setattr(cli.console, "width", 80)
    cli._print_monitoring(payload)
    out = capsys.readouterr().out
    table = out[out.index("Realised metrics") :]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "…" not in table  # nothing cut
    assert f"{versions[-1]} prod" in table and f"{versions[0]} shadow" in table
    shown = [v for v in versions if v in table]
    assert shown == [versions[0], *versions[-6:]]  # the shadow, then the newest five and prod
    assert "3 older version(s): monitor --json" in table
