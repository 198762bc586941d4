"""Honest training end to end: noise is rejected, real signal passes, drift is caught."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TODAY
from trading_engine.config import load_settings
from trading_engine.data import DemoMarket, MarketData, PriceHistory, QualityReport, load_market
from trading_engine.features import dataset_from_market
from trading_engine.training import score_model, train_and_evaluate, tune_hyperparameters
from trading_engine.training.trainer import fit_candidate


def random_walk_folder(folder, n_tickers=50, n_days=1260, seed=0):
    """Pure random walks written as CSV files: nothing here can be predicted."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    dates = np.busday_offset(TODAY, np.arange(-n_days + 1, 1), roll="backward")
    folder.mkdir()
    for i in range(n_tickers):
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n_days)))
        open_ = close * np.exp(rng.normal(0, 0.003, n_days))
        pd.DataFrame(
            {
                "date": dates.astype("datetime64[ns]"),
                "open": open_,
                "high": np.maximum(open_, close) * 1.004,
                "low": np.minimum(open_, close) * 0.996,
                "close": close,
                "volume": rng.integers(100_000, 1_000_000, n_days),
            }
        ).to_csv(folder / f"RW{i:02d}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def retraining():
    return load_settings().retraining


@pytest.fixture(scope="module")
def demo_dataset():
    settings = load_settings(data={"demo_end": str(TODAY)})
    return dataset_from_market(load_market(settings, today=TODAY))


@pytest.fixture(scope="module")
def demo_result(demo_dataset, retraining):
    return train_and_evaluate(demo_dataset, None, retraining)


@pytest.mark.slow
def test_pure_noise_scores_chance_and_is_rejected(tmp_path, retraining):
    settings = load_settings(
        data={"provider": "csv", "folder": random_walk_folder(tmp_path / "rw")}
    )
    dataset = dataset_from_market(load_market(settings, today=TODAY))
    result = train_and_evaluate(dataset, None, retraining)
    assert abs(result.metrics["roc_auc"] - 0.5) <= 0.05, result.metrics
    assert not result.gates.passed and not result.gates.deploy
    failed = {gate.name for gate in result.gates.failed}
    assert {"min_accuracy", "skill_pt"} <= failed
    assert result.metrics["skill_p_value_pt"] >= 0.05


def drifting_market(n_tickers=10, n_days=700, flip_days_before_end=90, seed=0):
    """Random walks that fall (drift -0.4 %/day) and then rise (+0.4 %/day) near the end."""
    rng = np.random.default_rng(seed)
    dates = np.busday_offset(TODAY, np.arange(-n_days + 1, 1), roll="backward")
    drift = np.where(np.arange(n_days) < n_days - flip_days_before_end, -0.004, 0.004)
    histories = {}
    for i in range(n_tickers):
        close = 50 * np.exp(np.cumsum(drift + rng.normal(0, 0.01, n_days)))
        histories[f"D{i}"] = PriceHistory(
            f"D{i}",
            dates,
            close,
            close * 1.004,
            close * 0.996,
            close,
            rng.integers(100_000, 1_000_000, n_days).astype(np.float64),
        )
    return MarketData(histories, QualityReport())


def test_the_accuracy_edge_is_over_the_training_majority(retraining):
    result = train_and_evaluate(dataset_from_market(drifting_market()), None, retraining)
    metrics = result.metrics
    # Training mostly fell, the holdout rose: the majorities differ, and the edge is measured
    # over always "down" (known at training time), not over the holdout's own majority.
    assert metrics["train_base_rate"] < 0.5 < metrics["base_rate"]
    always_down = 1 - metrics["base_rate"]
    assert metrics["accuracy_edge"] == pytest.approx(metrics["accuracy"] - always_down)
    assert metrics["chance_accuracy"] == pytest.approx(
        metrics["predicted_up"] * metrics["base_rate"]
        + (1 - metrics["predicted_up"]) * (1 - metrics["base_rate"])
    )
    assert {"skill_pt", "skill_auc"} <= {gate.name for gate in result.gates.gates}
    assert "skill_accuracy" not in {gate.name for gate in result.gates.gates}


def test_demo_candidate_passes_every_gate(demo_result):
    metrics = demo_result.metrics
    assert demo_result.gates.passed, [g.describe() for g in demo_result.gates.gates]
    assert metrics["pt_statistic"] > 10 and metrics["pt_p_value"] < 1e-6
    assert metrics["skill_p_value_pt"] < 0.01 and metrics["skill_p_value_auc"] < 0.01
    assert metrics["f1_score"] > 0.65 and metrics["accuracy"] > 0.70
    assert metrics["accuracy"] > metrics["baseline_accuracy"] + 0.1
    # The holdout is the newest 63 labelled dates, after a purge gap of horizon + embargo.
    assert metrics["holdout_rows"] == 63 * 50
    gap = np.busday_count(
        np.datetime64(metrics["train_end"]), np.datetime64(metrics["holdout_start"])
    )
    assert gap == 11  # 10 unused trading dates between the last training and first holdout date
    assert set(demo_result.metrics) >= {
        "f1_score",
        "accuracy",
        "precision",
        "recall",
        "roc_auc",
        "cv_mean",
        "cv_std",
        "log_loss",
        "brier",
        "base_rate",
        "baseline_accuracy",
        "baseline_f1",
    }
    assert len(demo_result.folds) == 5
    assert demo_result.model.train_end == metrics["train_end"]


def previous_regime(dataset):
    """Rows of the regime before the last change only: a model that never saw the new form."""
    regimes = DemoMarket(end=str(TODAY)).regimes()
    return dataset.take(
        (dataset.dates >= regimes[-2].start) & (dataset.label_end < regimes[-1].start)
    )


def test_model_trained_before_the_regime_change_fails_after_it(demo_dataset, retraining):
    before = previous_regime(demo_dataset)
    old = train_and_evaluate(before, None, retraining).model
    metrics, gates = score_model(old, demo_dataset, retraining)
    assert metrics["accuracy"] < 0.5
    assert not gates.passed


def test_production_is_rescored_on_rows_it_never_saw(demo_dataset, retraining):
    old = train_and_evaluate(previous_regime(demo_dataset), None, retraining)
    result = train_and_evaluate(demo_dataset, old.model, retraining)
    comparison = result.comparison
    assert comparison.source == "paired" and comparison.days == 63
    assert comparison.production["accuracy"] < 0.5 < comparison.candidate["accuracy"]
    assert result.gates.passed  # a better challenger is no degradation


def test_without_unseen_rows_the_recorded_metrics_are_used_and_labelled(
    demo_result, demo_dataset, retraining
):
    # A candidate whose holdout lies inside production's training period (e.g. older data).
    cutoff = np.datetime64(demo_result.model.train_end) - np.timedelta64(30, "D")
    older = demo_dataset.take(demo_dataset.dates <= cutoff)
    result = train_and_evaluate(older, demo_result.model, retraining)
    assert result.comparison.source == "recorded"
    assert "recorded metrics are used" in result.comparison.reason
    assert result.comparison.production["f1_score"] == demo_result.metrics["f1_score"]
    assert {"max_f1_drop", "max_accuracy_drop"} <= {g.name for g in result.gates.gates}


def test_degradation_gate_rejects_a_much_worse_candidate(demo_result, demo_dataset, retraining):
    weak = retraining.model_copy(
        update={
            "features": ("Volume_Change",),
            "skill_gate": False,
            "min_f1_score": 0.0,
            "min_accuracy": 0.0,
        }
    )
    weak_rows = dataset_from_market(
        load_market(load_settings(data={"demo_end": str(TODAY)}), today=TODAY),
        features=("Volume_Change",),
    )
    result = train_and_evaluate(weak_rows, demo_result.model, weak)
    drop = {g.name: g for g in result.gates.gates}["max_f1_drop"]
    assert (
        result.comparison.source == "recorded" and "different features" in result.comparison.reason
    )
    assert not drop.passed and drop.value > 0.10


def test_force_deploys_but_says_it_was_forced(demo_dataset, retraining):
    strict = retraining.model_copy(update={"min_accuracy": 0.99})
    result = train_and_evaluate(demo_dataset, None, strict, force=True)
    assert not result.gates.passed and result.gates.deploy and result.forced
    assert result.gates.to_dict()["forced"] is True


def test_same_data_same_seed_same_model(demo_dataset, demo_result, retraining):
    again = train_and_evaluate(demo_dataset, None, retraining)
    assert again.metrics == demo_result.metrics


def test_folds_and_final_fit_side_by_side_equal_fitting_them_one_by_one(
    demo_dataset, demo_result, retraining
):
    # By default the folds are fitted at once, one LightGBM thread each, and the final fit
    # starts beside the older folds as soon as the newest fold is done; with a thread count set,
    # everything runs one after the other on that many threads. Same rows and parameters either
    # way, and LightGBM's trees do not depend on the thread count: the same folds, the same model.
    lightgbm = retraining.lightgbm.model_copy(update={"num_threads": 2})
    one_by_one = train_and_evaluate(
        demo_dataset, None, retraining.model_copy(update={"lightgbm": lightgbm})
    )
    assert [fold.metrics for fold in one_by_one.folds] == [
        fold.metrics for fold in demo_result.folds
    ]
    assert [fold.best_iteration for fold in one_by_one.folds] == [
        fold.best_iteration for fold in demo_result.folds
    ]
    assert one_by_one.metrics["final_rounds"] == demo_result.metrics["final_rounds"]
    assert one_by_one.model.predict_proba(demo_dataset.X).tolist() == (
        demo_result.model.predict_proba(demo_dataset.X).tolist()
    )


def test_rows_cannot_be_shuffled_across_dates(demo_dataset):
    from dataclasses import replace

    order = np.random.default_rng(0).permutation(len(demo_dataset))
    with pytest.raises(ValueError, match="ordered by date"):
        replace(demo_dataset, X=demo_dataset.X[order], dates=demo_dataset.dates[order])
    with pytest.raises(ValueError, match="boolean mask"):
        demo_dataset.take(order)


@pytest.mark.slow
def test_weekly_tuning_searches_on_development_rows_only(retraining):
    market = DemoMarket(n_days=700, end=str(TODAY)).generate([f"T{i}" for i in range(10)])
    dataset = dataset_from_market(market)
    params = tune_hyperparameters(dataset, retraining, n_trials=3)
    assert 0.01 <= params["learning_rate"] <= 0.2 and 7 <= params["num_leaves"] <= 127
    result = train_and_evaluate(dataset, None, retraining, params=params)
    assert result.params["num_leaves"] == params["num_leaves"]


def test_tickers_with_gaps_train_without_error(retraining):
    market = DemoMarket(n_days=600, end=str(TODAY)).generate(["A", "B", "C"])
    gappy = market.histories["B"].rows(np.r_[0:300, 330:600])
    histories = {**market.histories, "B": gappy}
    result = train_and_evaluate(
        dataset_from_market(MarketData(histories, QualityReport())), None, retraining
    )
    assert result.tickers == 3
    assert isinstance(gappy, PriceHistory)


def production_cut_before(demo_dataset, retraining, business_days: int):
    """Production trained (and selected on its holdout) on data ending ``business_days`` ago."""
    last = demo_dataset.dates.max()
    cut = np.busday_offset(last, -business_days, roll="backward")
    return train_and_evaluate(demo_dataset.take(demo_dataset.dates <= cut), None, retraining)


def test_production_is_rescored_only_after_its_own_holdout_plus_purge(
    demo_dataset, demo_result, retraining
):
    production = production_cut_before(demo_dataset, retraining, 45).model
    comparison = train_and_evaluate(demo_dataset, production, retraining).comparison
    holdout_end = np.datetime64(production.metrics["holdout_end"])
    first_allowed = np.busday_offset(holdout_end, retraining.horizon + retraining.embargo)
    holdout_dates = np.unique(demo_dataset.labeled().dates)[-retraining.holdout_days :]
    assert comparison.source == "paired" and not comparison.fallback
    assert comparison.days == int(np.sum(holdout_dates > first_allowed))
    # Its training end plus purge would have let it be scored on its own holdout too.
    after_training = np.busday_offset(np.datetime64(production.label_end), retraining.embargo)
    assert comparison.days < int(np.sum(holdout_dates > after_training))
    assert f"after production's holdout end {holdout_end}" in comparison.reason


@pytest.mark.slow
def test_too_few_unselected_rows_fall_back_to_the_record_and_say_so(demo_dataset, retraining):
    production = production_cut_before(demo_dataset, retraining, 15).model
    comparison = train_and_evaluate(demo_dataset, production, retraining).comparison
    assert comparison.source == "recorded" and comparison.fallback
    assert comparison.reason.startswith("FALLBACK, not the same rows")
    assert "need 20" in comparison.reason
    assert comparison.production["f1_score"] == production.metrics["f1_score"]


@pytest.mark.slow
def test_cv_mean_says_when_it_is_the_tuning_objective(demo_result, demo_dataset, retraining):
    assert demo_result.metrics["cv_tuned"] is False
    tuned = train_and_evaluate(demo_dataset, None, retraining, params={"num_leaves": 15})
    assert tuned.metrics["cv_tuned"] is True
    assert "the tuning objective's folds" in tuned.metrics["cv_note"]


def test_without_the_older_folds_the_model_is_the_same_and_cv_is_not_claimed(
    demo_dataset, demo_result, retraining
):
    # A replay never shows cv_mean, so it fits the newest fold only (the final fit's rounds).
    lean = fit_candidate(demo_dataset, retraining, measure_cv=False)
    assert lean.model.predict_proba(demo_dataset.X).tolist() == (
        demo_result.model.predict_proba(demo_dataset.X).tolist()
    )
    assert lean.holdout_metrics == {key: demo_result.metrics[key] for key in lean.holdout_metrics}
    assert lean.metrics["cv_mean"] is None and lean.metrics["cv_std"] is None
    assert "not measured" in lean.metrics["cv_note"]
    assert [fold.fold for fold in lean.folds] == [demo_result.folds[-1].fold]
