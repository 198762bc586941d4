"""Replay: the policy over history, scored against baselines, through the live code path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.conftest import demo_histories, write_market
from tests.markets import random_walk_histories
from trading_engine.config import load_settings
from trading_engine.data import DemoMarket, MarketData, QualityReport
from trading_engine.model_retraining import ModelRetrainingService
from trading_engine.service.replay import (
    PoolExecutor,
    ReplayContext,
    run_replay,
    step_dates,
    trading_dates,
)
from trading_engine.service.replay_summary import summarise
from trading_engine.training import tune_hyperparameters
from trading_engine.training.tuning import search


def replay_settings(tmp_path, **retraining):
    return load_settings(
        paths={"models_dir": tmp_path / "models", "logs_dir": tmp_path / "logs"},
        retraining={"bootstrap_samples": 100, **retraining},
    )


def market_of(histories) -> MarketData:
    return MarketData(histories, QualityReport(loaded=sorted(histories)))


def test_step_dates_are_the_last_trading_date_of_each_period():
    dates = np.busday_offset("2024-01-01", np.arange(70), roll="forward").astype("M8[D]")
    weekly = step_dates(dates, "weekly")
    assert np.is_busday(weekly).all() and len(weekly) == 14
    assert [str(d) for d in weekly[:2]] == ["2024-01-05", "2024-01-12"]  # Fridays
    monthly = step_dates(dates, "monthly", start=np.datetime64("2024-02-01"))
    assert [str(d) for d in monthly] == ["2024-02-29", "2024-03-29", "2024-04-05"]
    assert len(step_dates(dates, "daily", end=np.datetime64("2024-01-10"))) == 8


def test_a_step_sees_no_label_that_ends_after_it(tmp_path):
    context = ReplayContext.build(replay_settings(tmp_path), market_of(demo_histories(3, 500)))
    step = context.dataset.dates[300]
    cut = context.dataset_at(step)
    assert cut.dates.max() == step
    assert (cut.label_end[cut.has_label] <= step).all()
    assert np.isnan(cut.y[cut.label_end > step]).all()
    # Features masked by date equal features built on the market cut at the step.
    from trading_engine.features import dataset_from_market

    live = dataset_from_market(context.market_at(step))
    np.testing.assert_array_equal(live.X, cut.X)
    np.testing.assert_array_equal(live.y, cut.y)


@pytest.mark.slow
def test_on_a_random_walk_no_policy_and_no_baseline_shows_skill(tmp_path):
    market = market_of(random_walk_histories(n_tickers=30, n_days=900, seed=5))
    result = run_replay(replay_settings(tmp_path), market, tmp_path / "store", every="monthly")
    summary = summarise(result, bootstrap_samples=100)
    scored = {"policy": summary["policy"]["metrics"]} | {
        name: value["metrics"] for name, value in summary["baselines"].items()
    }
    assert summary["policy"]["metrics"]["rows"] > 10_000
    for name, metrics in scored.items():
        assert abs(metrics["roc_auc"] - 0.5) <= 0.03, (name, metrics)
        assert metrics["pt_p_value"] > 0.05, (name, metrics)
    # The gates rejected (nearly) every candidate after the forced first deployment.
    assert summary["policy"]["deployments"] <= 2


@pytest.mark.slow
def test_on_the_demo_market_retraining_beats_never_retraining_after_a_regime_change(tmp_path):
    demo = DemoMarket(n_days=800, end="2013-05-01")
    market = demo.generate([f"T{i}" for i in range(8)])
    changes = [regime.start for regime in demo.regimes()]
    # The market profile: on 8 tickers the seed profile's skill test (the conservative
    # bootstrap) never passes a post-change candidate under repeated testing, and production
    # stays the pre-change model (the replay shows exactly that: policy = never_retrain).
    result = run_replay(
        replay_settings(tmp_path, gate_profile="market"),
        market,
        tmp_path / "store",
        every="monthly",
        regime_changes=changes,
    )
    summary = summarise(result, bootstrap_samples=200)
    (change,) = summary["regime_changes"]  # 2012-06-01: trend -> reversal
    assert change["date"] == "2012-06-01"
    versus = change["policy_minus_never_retrain"]["accuracy"]
    assert versus["ci_low"] > 0, versus
    assert change["recovered"] and change["recovery_step"] >= 1
    assert change["recovery_date"] >= "2012-06-01"
    assert summary["policy"]["deployments"] >= 2


def cut_folder(tmp_path, histories, day, name):
    return write_market(tmp_path / name, {t: h.until(day) for t, h in histories.items()})


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.slow
def test_a_replay_step_and_a_live_retrain_on_the_same_cut_decide_the_same(tmp_path):
    histories = demo_histories(n_tickers=4, n_days=700, seed=7)
    settings = replay_settings(tmp_path)
    dates = histories["T00"].dates
    start, end = dates[-130], dates[-60]
    result = run_replay(
        settings, market_of(histories), tmp_path / "store", every="monthly", start=start, end=end
    )
    assert len(result.steps) >= 3
    from trading_engine.store import ModelRegistry
    from trading_engine.training.model import decode_model

    replay_store = ModelRegistry(tmp_path / "store")
    live_settings = load_settings(
        paths={"models_dir": tmp_path / "live", "logs_dir": tmp_path / "logs"},
        retraining={"bootstrap_samples": 100},
        data={"provider": "csv", "folder": tmp_path / "cut"},
    )
    for number, log in enumerate(result.steps):
        day = np.datetime64(log.date)
        folder = cut_folder(tmp_path, histories, day, f"cut{number}")
        clock = FixedClock(datetime.fromisoformat(f"{day}T22:00:00+00:00").astimezone(UTC))
        service = ModelRetrainingService(
            live_settings.model_copy(
                update={"data": live_settings.data.model_copy(update={"folder": folder})}
            ),
            clock=clock,
        )
        run = service.run_retrain(force=number == 0)  # the replay's first step is forced
        assert run.outcome == log.outcome, (log, run.reason)
        assert [g.name for g in run.gates.failed] == log.failed_gates
        assert run.metrics.accuracy == log.accuracy
        if log.outcome == "deployed":
            live_model = service.production_model().model.booster.model_to_string()
            replayed = decode_model(
                replay_store.verified_bytes(log.version).data, log.version
            ).model.booster.model_to_string()
            assert live_model == replayed


def test_a_replay_never_writes_into_the_configured_models_folder(cli_run, tmp_path):
    folder = write_market(tmp_path / "market", demo_histories(n_tickers=3, n_days=520))
    models = tmp_path / "models"
    env = {"PATHS__MODELS_DIR": str(models), "RETRAINING__BOOTSTRAP_SAMPLES": "100"}
    code, out, err = cli_run("replay", "--data", str(folder), "--every", "monthly", "--json", **env)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] >= 2 and summary["outputs"] == {}
    assert not models.exists() or not any(models.iterdir())
    code, _, err = cli_run(
        "replay", "--data", str(folder), "--out", str(models), "--every", "monthly", **env
    )
    assert code == 2 and "configured models folder" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "hourly"], "--every: 'hourly' is not one of daily, weekly, monthly"),
        (["--workers", "0"], "--workers: 0 must be at least 1"),
        (["--start", "2024-13-01"], "--start: '2024-13-01' is not a date"),
        (["--start", "2025-01-01", "--end", "2024-01-01"], "--end 2024-01-01 is before"),
        (["--dask", "localhost:1"], "is not a scheduler address"),
        (["--start", "2011-01-03"], "is before"),
    ],
)
def test_replay_mistakes_are_one_line_and_exit_2(cli_run, args, message):
    code, out, err = cli_run("replay", *args)
    assert code == 2, (out, err)
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_outputs_and_the_json_shape(cli_run, tmp_path):
    folder = write_market(tmp_path / "market", demo_histories(n_tickers=3, n_days=560, seed=7))
    out = tmp_path / "replay"
    code, stdout, err = cli_run(
        "replay",
        "--data",
        str(folder),
        "--every",
        "monthly",
        "--out",
        str(out),
        "--json",
        RETRAINING__BOOTSTRAP_SAMPLES="100",
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert {"steps", "start", "end", "every", "policy", "baselines", "outputs"} <= set(summary)
    assert set(summary["policy"]["metrics"]) >= {
        "roc_auc",
        "accuracy",
        "brier",
        "pt_p_value",
        "rows",
    }
    assert {"deployments", "rejections"} <= set(summary["policy"])
    assert set(summary["baselines"]) >= {"never_retrain", "always_deploy", "always_up"}
    for name in ("summary", "predictions", "steps", "report", "chart_accuracy"):
        assert (out / summary["outputs"][name].split("/")[-1]).exists(), name
    assert json.loads((out / "summary.json").read_text())["steps"] == summary["steps"]
    import pandas as pd

    frame = pd.read_parquet(out / "predictions.parquet")
    assert {"date", "ticker", "outcome_up", "p_policy", "p_never_retrain"} <= set(frame.columns)
    assert len((out / "steps.jsonl").read_text().splitlines()) == summary["steps"]
    html = (out / "report.html").read_text()
    assert (
        "<svg" in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert (out / "rolling_accuracy.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_the_report_opens_in_headless_chromium_without_console_errors(tmp_path):
    from pathlib import Path

    from trading_engine.service.replay_report import write_outputs

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("Chromium missing: apt-get install -y chromium (.ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api")
    demo = DemoMarket(n_days=700, end="2012-12-31")
    result = run_replay(
        replay_settings(tmp_path),
        demo.generate(["A", "B", "C"]),
        tmp_path / "out" / "store",
        every="monthly",
        regime_changes=[regime.start for regime in demo.regimes()],
    )
    outputs = write_outputs(result, summarise(result, bootstrap_samples=100), tmp_path / "out")
    problems: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(request.url))
        broken = tmp_path / "broken.html"  # negative control: the listeners do hear errors
        broken.write_text("<html><body><script>console.error('planted')</script></body></html>")
        page.goto(broken.as_uri())
        assert problems == ["planted"]
        problems.clear()
        page.goto(Path(outputs["report"]).as_uri())
        assert page.locator("svg").count() == 3
        assert "Replay of the retraining policy" in page.content()
        browser.close()
    assert problems == []


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_replay_as_the_local_pool(tmp_path):
    # Tuning included: every other step re-tunes, its trials spread over the workers.
    distributed = pytest.importorskip("distributed")
    settings = replay_settings(tmp_path, tuning={"n_trials": 4, "parallel_trials": 2})
    market = DemoMarket(n_days=640, end="2012-06-29").generate(["A", "B", "C"])
    pool = run_replay(settings, market, tmp_path / "pool", every="monthly", workers=2, full_every=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = run_replay(
            settings,
            market,
            tmp_path / "dask",
            every="monthly",
            dask_address=cluster.scheduler_address,
            full_every=2,
        )
    assert on_dask.workers == 2 and len(pool.steps) >= 4
    assert (
        [s.full for s in on_dask.steps]
        == [s.full for s in pool.steps]
        == [i % 2 == 0 for i in range(len(pool.steps))]
    )
    assert [(s.date, s.outcome, s.version, s.failed_gates) for s in on_dask.steps] == [
        (s.date, s.outcome, s.version, s.failed_gates) for s in pool.steps
    ]
    for name, values in pool.probability.items():
        np.testing.assert_array_equal(on_dask.probability[name], values, err_msg=name)
    np.testing.assert_array_equal(on_dask.live_version, pool.live_version)


@pytest.mark.slow
def test_every_nth_step_retunes_its_hyperparameters(tmp_path):
    settings = replay_settings(tmp_path, tuning={"n_trials": 2})
    market = DemoMarket(n_days=600, end="2012-04-30").generate(["A", "B", "C"])
    result = run_replay(settings, market, tmp_path / "store", every="monthly", full_every=2)
    assert len(result.steps) >= 3
    assert [log.full for log in result.steps] == [i % 2 == 0 for i in range(len(result.steps))]


@pytest.mark.slow
def test_tuning_trials_spread_over_a_process_pool_find_what_a_live_full_retrain_finds(tmp_path):
    # Trials are asked in batches of tuning.parallel_trials whatever evaluates them, so the
    # search is the same in this process (a live full retrain) and over the replay's workers.
    settings = replay_settings(tmp_path, tuning={"n_trials": 6, "parallel_trials": 3})
    market = DemoMarket(n_days=640, end="2012-06-29").generate(["A", "B", "C"])
    context = ReplayContext.build(settings, market)
    date = trading_dates(market)[-1]
    live = tune_hyperparameters(context.dataset_at(date), settings.retraining)
    pool = PoolExecutor(context, 2)
    try:
        spread = search(settings.retraining, pool.evaluator(date))
    finally:
        pool.close()
    assert spread == live and set(live) >= {"learning_rate", "num_leaves"}
