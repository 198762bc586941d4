"""Repeated testing: the significance level a candidate's skill test must reach, given the
candidates judged before it. Only decides the level; the history comes from the store of record.

Why. A daily retrain re-tests skill every day. One test at p < 0.05 falsely passes pure noise
5 % of the time (far less here: the bootstrap is conservative), but 250 tests a year would find
a lucky holdout sooner or later, and one lucky holdout deploys. Consecutive daily candidates
are not 250 independent tests, though: their 63-day holdouts share 62 days, and a model trained
on one more day predicts almost as before, so their p-values move slowly (``bench/gates.py``
prints the correlation of consecutive days' p-values). What is new, roughly, is one holdout's
worth of days.

The rule: alpha spending over *independent holdout windows* since production last changed.

* The family is every candidate judged since the last deploy or rollback (a change of the
  model in production starts a new question: "is anything better than *this* model?"), read
  from the run history in the store (``RunRecord.metrics.holdout_start``), never a side file.
* ``k`` = 1 + the number of whole holdout lengths (in business days) between the holdout start
  of the family's first candidate and the current candidate's. Candidates within one window
  share it: they are nearly one test.
* The candidate's skill p-values must be below ``alpha_k = alpha * 6 / (pi^2 k^2)``; the sum
  over all k is alpha, so with independent windows the chance that pure noise ever deploys
  between two changes of production is at most alpha, however long it runs.

Why not require the skill to persist over consecutive candidates: two candidates 1 day apart
pass or fail together (same rows), so "twice in a row" guards against almost nothing unless the
runs are a holdout apart, and then a real edge waits 3 months to deploy. Why not judge only on
rows earlier candidates were not judged on: with daily runs there are no such rows for 62 days,
so all but one run a quarter could never deploy. Spending alpha keeps every run able to deploy
and makes the threshold strict exactly as fast as fresh evidence accumulates: about 3 % for a
quarter after a deploy, 0.76 % in the second, 0.34 % in the third, 0.19 % in the fourth.
The within-window dependence is not zero, so the year-long rate is measured, not assumed
(``bench/gates.py``, 20 noise market-years of 250 daily retrains each: 1 deployed with this
rule, 9 would have at p < 0.05 throughout; consecutive days' p-values correlate 0.70, those a
holdout apart -0.06).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PriorCandidate:
    """A candidate judged earlier: when it ran and where its holdout started."""

    started_at: str
    holdout_start: str


@dataclass(frozen=True)
class CandidateHistory:
    """The candidates judged since production last changed (read from the store's runs)."""

    prior: tuple[PriorCandidate, ...] = ()
    since: str | None = None  # when production last changed; None: never


@dataclass(frozen=True)
class RepeatedTesting:
    """The level the skill test is held to, and why (shown in the gate report)."""

    alpha: float  # the configured skill_p_value
    effective_alpha: float  # alpha_k
    window: int  # k: 1 + whole holdout lengths since the family's first holdout start
    candidates: int  # candidates judged since production last changed, this one included
    since: str | None  # when production last changed (None: never)
    first_holdout_start: str  # the family's first holdout start
    holdout_days: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spending(alpha: float, window: int) -> float:
    """alpha_k = alpha * 6 / (pi^2 k^2): sums to alpha over k = 1, 2, ..."""
    return alpha * 6 / (math.pi**2 * window**2)


def windows_between(first_start: str, start: str, holdout_days: int) -> int:
    """Whole holdout lengths (business days) from ``first_start`` to ``start``, at least 0."""
    days = int(np.busday_count(np.datetime64(first_start, "D"), np.datetime64(start, "D")))
    return max(0, days) // holdout_days


def repeated_testing(
    history: CandidateHistory, holdout_start: str, *, alpha: float, holdout_days: int
) -> RepeatedTesting:
    """The level for a candidate whose holdout starts at ``holdout_start``.

    ``history`` holds the candidates judged since production last changed (the caller reads
    them from the store; a deploy or rollback empties it).
    """
    prior, since = history.prior, history.since
    starts = [candidate.holdout_start for candidate in prior] + [holdout_start]
    first = min(starts)
    window = 1 + windows_between(first, holdout_start, holdout_days)
    effective = spending(alpha, window)
    changed = f"production last changed {since}" if since else "no production change yet"
    reason = (
        f"candidate {len(prior) + 1} judged since {changed}; its holdout starts "
        f"{window - 1} whole {holdout_days}-day holdout(s) after the first one's ({first}), "
        f"so it is test k = {window} of the alpha spending alpha * 6 / (pi^2 k^2): "
        f"p < {effective:.4f} instead of {alpha}"
    )
    return RepeatedTesting(
        alpha=alpha,
        effective_alpha=effective,
        window=window,
        candidates=len(prior) + 1,
        since=since,
        first_holdout_start=first,
        holdout_days=holdout_days,
        reason=reason,
    )
