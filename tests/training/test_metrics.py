"""Metrics agree with scikit-learn; the skill test separates skill from luck."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from trading_engine.training.metrics import (
    _weighted_auc,
    block_bootstrap_skill,
    classification_metrics,
    roc_auc,
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
    skill = block_bootstrap_skill(y, np.full(100, 0.9), dates, samples=200)
    assert skill.p_value_accuracy > 0.5 and skill.p_value_auc > 0.5


def test_weighted_auc_with_unit_weights_is_the_plain_auc():
    y, probability, _, _ = panel(signal=0.2)
    probability = np.round(probability, 2)  # plenty of ties
    order = np.argsort(probability, kind="stable")
    sorted_p = probability[order]
    groups = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    auc = _weighted_auc(np.ones((1, len(y))), y[order] == 1, groups)[0]
    assert np.isclose(auc, roc_auc(y, probability))


def test_skill_is_significant_and_noise_is_not():
    skilled = block_bootstrap_skill(*panel(signal=0.3)[:2], *panel(signal=0.3)[2:], samples=300)
    assert skilled.p_value_accuracy < 0.01 and skilled.p_value_auc < 0.01
    false_positives = 0
    for seed in range(20):
        y, probability, dates, tickers = panel(seed=seed)
        test = block_bootstrap_skill(y, probability, dates, tickers, samples=200, seed=seed)
        false_positives += test.p_value_auc < 0.05
    assert false_positives <= 3  # about 1 expected at the 5 % level
