"""Metrics agree with scikit-learn; the skill test separates skill from luck."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from trading_engine.training.metrics import (
    _row_stats,
    _skill_by_rows,
    _weighted_auc,
    block_bootstrap_skill,
    classification_metrics,
    pesaran_timmermann,
    roc_auc,
    student_t_sf,
)


def panel(n_days=63, n_tickers=50, signal=0.0, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n_days, n_tickers)) < 0.5).astype(float)
    probability = np.clip(0.5 + signal * (y - 0.5) + rng.normal(0, 0.2, y.shape), 0, 1)
    dates = np.repeat(np.arange(n_days).astype("datetime64[D]"), n_tickers)
    tickers = np.tile(np.arange(n_tickers), n_days)
    return y.ravel(), probability.ravel(), dates, tickers


def test_metrics_match_scikit_learn():
    y, probability, _, _ = panel(signal=0.3)
    metrics = classification_metrics(y, probability)
    assert np.isclose(metrics["roc_auc"], roc_auc_score(y, probability))
    assert np.isclose(metrics["f1_score"], f1_score(y, probability > 0.5))
    assert np.isclose(metrics["accuracy"], accuracy_score(y, probability > 0.5))
    assert np.isclose(metrics["log_loss"], log_loss(y, probability))
    assert metrics["baseline_accuracy"] == max(y.mean(), 1 - y.mean())


def test_always_up_has_no_skill_even_with_a_high_f1():
    y = np.r_[np.ones(60), np.zeros(40)]
    metrics = classification_metrics(y, np.full(100, 0.9))
    assert metrics["f1_score"] == 0.75 and metrics["accuracy"] == metrics["baseline_accuracy"]
    dates = np.arange(100).astype("datetime64[D]")
    skill = block_bootstrap_skill(y, np.full(100, 0.9), dates, train_base_rate=0.6, samples=200)
    assert skill.pt_excess == 0 and skill.pt_statistic == 0 and skill.pt_p_value == 1
    assert skill.p_value_pt == 1 and skill.p_value_auc == 1  # exactly: no resample shows an edge
    assert skill.accuracy_edge == 0 and skill.p_value_accuracy == 1


def test_the_accuracy_baseline_is_the_training_majority_not_the_holdouts():
    # Training labels were 30 % up, so the constant known beforehand is "down"; the holdout
    # then went up on 60 % of its rows. Always-up beats "down" by 0.2 (against the holdout's
    # own majority, hindsight, it would be 0) and still shows no directional skill.
    y = np.r_[np.ones(60), np.zeros(40)][np.random.default_rng(0).permutation(100)]
    dates = np.arange(100).astype("datetime64[D]")
    always_up = np.full(100, 0.9)
    skill = block_bootstrap_skill(y, always_up, dates, train_base_rate=0.3, samples=200)
    assert skill.training_majority_up is False
    assert skill.accuracy_edge == pytest.approx(0.6 - 0.4)
    assert skill.p_value_pt == 1 and skill.pt_excess == 0
    agreeing = block_bootstrap_skill(y, always_up, dates, train_base_rate=0.7, samples=200)
    assert agreeing.training_majority_up is True and agreeing.accuracy_edge == 0
    unknown = block_bootstrap_skill(y, always_up, dates, samples=200)
    assert unknown.accuracy_edge is None and unknown.p_value_accuracy is None


def test_pesaran_timmermann_by_hand():
    # y: 5 up of 8; x: 5 up of 8; hits 6 of 8. Py = Px = 5/8, P = 3/4,
    # P* = (5/8)^2 + (3/8)^2 = 17/32, var(P) = (17/32)(15/32)/8 = 255/8192,
    # var(P*) = 2 (1/4)^2 (5/8)(3/8)/8 + 4 (5/8)^2 (3/8)^2 / 64 = (30 + 28.125)/8192,
    # S = (3/4 - 17/32) / sqrt(196.875/8192) = 1.41107, p = 1 - Phi(S) = 0.07911.
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    x = np.array([1, 1, 1, 1, 0, 1, 0, 0])
    statistic, p_value = pesaran_timmermann(y, x)
    assert statistic == pytest.approx((7 / 32) / math.sqrt(196.875 / 8192), rel=1e-12)
    assert statistic == pytest.approx(1.41107, abs=1e-5)
    assert p_value == pytest.approx(0.07911, abs=1e-5)
    assert pesaran_timmermann(y, x.astype(bool)) == (statistic, p_value)


def test_pesaran_timmermann_limits():
    n = 200
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    # Perfect, balanced forecasts: P - P* = 1/2 and S = n / sqrt(n - 1), about sqrt(n).
    assert pesaran_timmermann(y, y)[0] == pytest.approx(n / math.sqrt(n - 1))
    # Always wrong: the same statistic with the sign flipped, p-value 1 to machine precision.
    statistic, p_value = pesaran_timmermann(y, 1 - y)
    assert statistic == pytest.approx(-n / math.sqrt(n - 1)) and p_value == pytest.approx(1)
    # A constant forecast, or constant outcomes, hits exactly P*: no information, no edge.
    assert pesaran_timmermann(y, np.ones(n)) == (0.0, 1.0)
    assert pesaran_timmermann(np.ones(n), y) == (0.0, 1.0)
    # Large samples: S^2 is the chi-square statistic of independence of the 2x2 table.
    rng = np.random.default_rng(1)
    y = rng.random(20_000) < 0.55
    x = np.where(rng.random(20_000) < 0.05, y, rng.random(20_000) < 0.6)
    table = [[np.sum(x & y), np.sum(x & ~y)], [np.sum(~x & y), np.sum(~x & ~y)]]
    chi_square = chi2_contingency(table, correction=False)[0]
    assert pesaran_timmermann(y, x)[0] ** 2 == pytest.approx(chi_square, rel=1e-3)
    # Independent rows, forecasts independent of outcomes: p-values uniform.
    p_values = [
        pesaran_timmermann(rng.random(500) < 0.55, rng.random(500) < 0.7)[1] for _ in range(1000)
    ]
    assert 0.03 <= np.mean(np.array(p_values) < 0.05) <= 0.07


def test_weighted_auc_with_unit_weights_is_the_plain_auc():
    y, probability, _, _ = panel(signal=0.2)
    probability = np.round(probability, 2)  # plenty of ties
    order = np.argsort(probability, kind="stable")
    sorted_p = probability[order]
    groups = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    auc = _weighted_auc(np.ones((len(y), 1)), y[order] == 1, groups)[0]
    assert np.isclose(auc, roc_auc(y, probability))


@pytest.mark.parametrize("decimals", [None, 1])  # distinct scores, then many ties
def test_resampled_skill_equals_sklearn_with_the_same_weights(decimals):
    rng = np.random.default_rng(3)
    y, probability, _, _ = panel(signal=0.2)
    if decimals is not None:
        probability = np.round(probability, decimals)
    order = np.argsort(probability, kind="stable")
    y_sorted, p_sorted = y[order] == 1, probability[order]
    groups = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    up = p_sorted > 0.5
    stats = _row_stats(up, y_sorted, up == y_sorted, y_sorted)  # baseline: always up
    weights = rng.integers(0, 4, size=(len(y), 5)).astype(np.float64)  # rows x resamples
    excess, edge, auc = _skill_by_rows(weights, stats, y_sorted, groups)
    for k in range(weights.shape[1]):
        w = weights[:, k]
        assert auc[k] == pytest.approx(roc_auc_score(y_sorted, p_sorted, sample_weight=w))
        hit = accuracy_score(y_sorted, up, sample_weight=w)
        assert edge[k] == pytest.approx(
            hit - accuracy_score(y_sorted, np.ones_like(up), sample_weight=w)
        )
        share_up, share_y = np.average(up, weights=w), np.average(y_sorted, weights=w)
        assert excess[k] == pytest.approx(
            2 * (np.average(up & y_sorted, weights=w) - share_up * share_y)
        )


def test_skill_is_significant_and_noise_is_not():
    skilled = block_bootstrap_skill(*panel(signal=0.3), samples=300)
    assert skilled.p_value_pt < 0.01 and skilled.p_value_auc < 0.01
    assert skilled.pt_statistic > 5 and skilled.pt_p_value < 1e-6
    weak = block_bootstrap_skill(*panel(signal=0.05), samples=300)  # a small planted edge
    assert weak.p_value_pt < 0.05 and weak.p_value_auc < 0.05
    false_positives = {"pt": 0, "auc": 0}
    for seed in range(20):
        y, probability, dates, tickers = panel(seed=seed)
        test = block_bootstrap_skill(y, probability, dates, tickers, samples=200, seed=seed)
        false_positives["pt"] += test.p_value_pt < 0.05
        false_positives["auc"] += test.p_value_auc < 0.05
        assert test.pt_excess < 0.05
    assert max(false_positives.values()) <= 3  # about 1 expected at the 5 % level


def test_student_t_tail_matches_scipy():
    from scipy.stats import t

    for df in (1, 2, 3, 6, 19, 49):
        for statistic in (-2.5, -0.3, 0.0, 0.8, 1.9, 4.2):
            assert np.isclose(student_t_sf(statistic, df), t.sf(statistic, df), atol=1e-12)


def test_two_way_test_sees_a_weak_edge_and_passes_noise_about_as_often_as_it_should():
    weak = panel(signal=0.03, seed=5)  # AUC 0.534 on 63 days x 50 tickers
    assert block_bootstrap_skill(*weak, samples=400, variance="two_way").p_value_auc < 0.05
    noise = [
        block_bootstrap_skill(*panel(seed=s), samples=200, variance="two_way") for s in range(20)
    ]
    assert sum(test.p_value_auc < 0.05 for test in noise) <= 3  # about 5 % of 20, not more


def test_two_way_test_gives_a_constant_forecast_no_skill():
    y, _, dates, tickers = panel(seed=1)
    constant = block_bootstrap_skill(
        y, np.full(len(y), 0.7), dates, tickers, samples=200, variance="two_way"
    )
    assert constant.p_value_pt == 1.0 and constant.p_value_auc >= 0.5


@pytest.mark.parametrize("variance", ["pigeonhole", "two_way"])
def test_resamples_spread_over_threads_give_the_p_values_of_one_thread(monkeypatch, variance):
    # The resample chunks are drawn in order in the calling thread whatever evaluates them,
    # so the p-values cannot depend on the cores; the weights are whole numbers, so neither
    # can their sums. Ties included (rounded scores), a weak edge so no p-value is at its floor.
    from trading_engine.training import metrics

    y, probability, dates, tickers = panel(signal=0.03, seed=3)
    probability = np.round(probability, 2)

    def skill(cores: int) -> metrics.SkillTest:
        monkeypatch.setattr(metrics, "available_cores", lambda: cores)
        return block_bootstrap_skill(
            y,
            probability,
            dates,
            tickers,
            train_base_rate=0.5,
            samples=300,
            chunk=40,
            variance=variance,
        )

    one, spread = skill(1), skill(3)
    assert one == spread
    assert 0.002 < one.p_value_pt < 1 and 0.002 < one.p_value_auc < 1
