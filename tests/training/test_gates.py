"""Gate profiles, gates switched one by one, and what a rejection says about them."""

from __future__ import annotations

import pytest

from trading_engine.config import load_settings
from trading_engine.errors import ConfigError
from trading_engine.records import GateResult, GateVerdict, HoldoutMetrics
from trading_engine.service.pipeline import explain_rejection
from trading_engine.training.gates import evaluate_gates
from trading_engine.training.metrics import SkillTest
from trading_engine.training.repeated import CandidateHistory, repeated_testing

HOLDOUT = {"f1_score": 0.60, "accuracy": 0.56}  # a real but modest edge: below the seed's bars


def skill(p_pt: float, p_auc: float) -> SkillTest:
    return SkillTest(
        pt_excess=0.03,
        chance_accuracy=0.53,
        pt_statistic=2.0,
        pt_p_value=0.02,
        p_value_pt=p_pt,
        p_value_auc=p_auc,
        accuracy_edge=None,
        p_value_accuracy=None,
        training_majority_up=None,
        samples=1000,
        block_days=10,
    )


def gates_for(**retraining) -> list[str]:
    settings = load_settings(retraining=retraining).retraining
    report = evaluate_gates(
        HOLDOUT,
        min_f1_score=settings.min_f1_score,
        min_accuracy=settings.min_accuracy,
        max_performance_drop=settings.max_performance_drop,
        skill=skill(0.01, 0.01),
        profile=settings.gate_profile,
    )
    return [gate.name for gate in report.gates]


def test_the_seed_profile_is_the_default_and_keeps_the_seed_thresholds():
    settings = load_settings().retraining
    assert settings.gate_profile == "seed"
    assert (settings.min_f1_score, settings.min_accuracy) == (0.65, 0.70)
    assert settings.skill_variance == "pigeonhole"
    assert gates_for() == ["min_f1_score", "min_accuracy", "skill_pt", "skill_auc"]


def test_the_market_profile_turns_the_absolute_thresholds_off():
    settings = load_settings(retraining={"gate_profile": "market"}).retraining
    assert settings.min_f1_score is None and settings.min_accuracy is None
    assert settings.max_performance_drop == 0.10  # not worse than production: still on
    assert settings.skill_gate and settings.lookahead_gate and settings.repeated_testing
    assert settings.skill_variance == "two_way"
    assert gates_for(gate_profile="market") == ["skill_pt", "skill_auc"]


@pytest.mark.parametrize(
    ("retraining", "expected"),
    [
        ({"gate_profile": "market", "min_accuracy": 0.55}, ["min_accuracy", "skill_pt"]),
        ({"min_f1_score": "off"}, ["min_accuracy", "skill_pt"]),
        ({"min_accuracy": False}, ["min_f1_score", "skill_pt"]),
        ({"gate_profile": "market", "min_f1_score": 0.5}, ["min_f1_score", "skill_pt"]),
    ],
)
def test_each_gate_is_configurable_whatever_the_profile(retraining, expected):
    assert gates_for(**retraining)[:2] == expected


def test_a_misspelt_gate_or_profile_is_an_error():
    with pytest.raises(ConfigError, match=r"did you mean 'retraining\.gate_profile'"):
        load_settings(retraining={"gate_profil": "market"})
    with pytest.raises(ConfigError, match="expected 'seed' or 'market'"):
        load_settings(retraining={"gate_profile": "loose"})


def test_the_production_comparison_can_be_switched_off():
    settings = load_settings(retraining={"max_performance_drop": "off"}).retraining
    assert settings.max_performance_drop is None


def test_the_skill_gates_use_the_spent_level_and_the_report_shows_it():
    level = repeated_testing(CandidateHistory(), "2026-01-05", alpha=0.05, holdout_days=63)
    report = evaluate_gates(
        HOLDOUT,
        min_f1_score=None,
        min_accuracy=None,
        max_performance_drop=None,
        skill=skill(0.04, 0.01),  # would pass at 0.05, not at 0.0304
        repeated_testing=level,
    )
    pt = {gate.name: gate for gate in report.gates}["skill_pt"]
    assert pt.threshold == pytest.approx(0.0304, abs=1e-4) and not pt.passed
    assert report.to_dict()["repeated_testing"]["window"] == 1
    assert "k = 1" in report.to_dict()["repeated_testing"]["reason"]


def verdict(gates: list[tuple[str, bool]]) -> GateVerdict:
    results = [GateResult(name=n, value=0.5, threshold=0.6, passed=p, rule=">") for n, p in gates]
    return GateVerdict(passed=all(p for _, p in gates), gates=results, profile="seed")


def test_a_rejection_only_for_the_seed_thresholds_names_the_market_profile():
    failed_only_thresholds = verdict(
        [("min_f1_score", False), ("min_accuracy", False), ("skill_pt", True), ("skill_auc", True)]
    )
    reason = explain_rejection(
        HoldoutMetrics(accuracy=0.56), failed_only_thresholds.failed, None, failed_only_thresholds
    )
    assert reason.startswith("failed gate(s): min_f1_score, min_accuracy: ")
    assert "only the seed's absolute thresholds" in reason and "skill gates passed" in reason
    assert 'retraining.gate_profile = "market"' in reason


def test_no_market_hint_when_skill_failed_too():
    no_skill = verdict([("min_accuracy", False), ("skill_pt", False), ("skill_auc", True)])
    reason = explain_rejection(HoldoutMetrics(accuracy=0.5), no_skill.failed, None, no_skill)
    assert "market" not in reason
