"""Repeated testing: the skill level is spent over the candidates since production changed,
and that history is read from the store's run records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.registry_helpers import Clock, deploy
from trading_engine.records import HoldoutMetrics, RunRecord
from trading_engine.service.pipeline import candidate_history
from trading_engine.store import ModelRegistry
from trading_engine.training.repeated import (
    CandidateHistory,
    PriorCandidate,
    repeated_testing,
    spending,
    windows_between,
)


def test_spending_sums_to_alpha_and_falls_with_each_window():
    assert spending(0.05, 1) == pytest.approx(0.05 * 6 / math.pi**2)  # 0.0304
    assert spending(0.05, 2) == pytest.approx(spending(0.05, 1) / 4)
    assert sum(spending(0.05, k) for k in range(1, 100_000)) == pytest.approx(0.05, rel=1e-4)


def business_days_after(start: str, days: int) -> str:
    return str(np.busday_offset(np.datetime64(start), days))


def test_windows_are_counted_in_holdout_lengths_of_business_days():
    start = "2026-01-05"
    assert windows_between(start, start, 63) == 0
    assert windows_between(start, business_days_after(start, 62), 63) == 0
    assert windows_between(start, business_days_after(start, 63), 63) == 1
    assert windows_between(start, business_days_after(start, 200), 63) == 3
    assert windows_between(business_days_after(start, 63), start, 63) == 0  # never negative


def test_candidates_within_one_holdout_share_a_level_and_a_later_one_is_stricter():
    first = repeated_testing(CandidateHistory(), "2026-01-05", alpha=0.05, holdout_days=63)
    assert first.window == 1 and first.effective_alpha == pytest.approx(0.0304, abs=1e-4)
    prior = tuple(PriorCandidate(f"2026-01-{d:02d}", f"2026-01-{d:02d}") for d in (5, 6, 7))
    same = repeated_testing(CandidateHistory(prior), "2026-01-08", alpha=0.05, holdout_days=63)
    assert same.window == 1 and same.candidates == 4
    later = repeated_testing(CandidateHistory(prior), "2026-07-01", alpha=0.05, holdout_days=63)
    assert later.window == 3 and later.effective_alpha == pytest.approx(spending(0.05, 3))
    assert "k = 3" in later.reason and "2026-01-05" in later.reason


def rejected(registry: ModelRegistry, n: int, holdout_start: str) -> None:
    now = registry.clock().isoformat()
    registry.save_run(
        RunRecord(
            run_id=f"run_{n}",
            started_at=now,
            finished_at=now,
            outcome="rejected",
            reason="failed gate(s): skill_auc",
            metrics=HoldoutMetrics(holdout_start=holdout_start, roc_auc=0.52),
        )
    )


def test_the_store_history_makes_the_level_stricter_and_a_deploy_resets_it(tmp_path):
    registry = ModelRegistry(tmp_path / "models", clock=Clock())
    registry.ensure()

    def level(holdout_start: str) -> float:
        history = candidate_history(registry)
        return repeated_testing(history, holdout_start, alpha=0.05, holdout_days=63).effective_alpha

    assert level("2026-01-05") == pytest.approx(spending(0.05, 1))  # nothing judged yet
    for n, days in enumerate((0, 20, 70, 130)):
        rejected(registry, n, business_days_after("2026-01-05", days))
    # Four rejections; the next candidate's holdout starts 190 business days (3 whole 63-day
    # holdouts) after the first one's: it is test k = 4, held to p < 0.0019.
    assert len(candidate_history(registry).prior) == 4
    assert level(business_days_after("2026-01-05", 190)) == pytest.approx(spending(0.05, 4))
    deploy(registry)  # production changed: a new question, a new family
    history = candidate_history(registry)
    assert history.prior == () and history.since is not None
    assert level("2026-07-08") == pytest.approx(spending(0.05, 1))
    rejected(registry, 9, "2026-07-08")
    assert [c.holdout_start for c in candidate_history(registry).prior] == ["2026-07-08"]
