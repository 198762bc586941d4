"""Decide whether a candidate may be deployed. Only decides: no training, no files.

Gates (each with value, threshold and verdict; any of them can be switched off):

* ``min_f1_score`` / ``min_accuracy``: the seed's F1 > 0.65 and accuracy > 0.70 on the holdout
  (profile ``seed``; profile ``market`` leaves them off: no real daily-direction edge reaches
  them, while an always-up model clears F1 > 0.65 in a rising market);
* ``max_f1_drop`` / ``max_accuracy_drop``: relative drop versus production at most 10 %,
  measured on rows neither model was selected on when there are enough of them (see
  ``ChampionComparison``; both profiles);
* ``skill_pt`` / ``skill_auc``: directional skill, so a model that is "good" only because the
  market went up (an always-up predictor has F1 ~0.7 in a rising market) never passes. Both
  p-values come from one two-way bootstrap (blocks of dates x tickers, ``block_bootstrap_skill``)
  and must be below the threshold: the Pesaran-Timmermann excess P - P* (hit rate above that of
  guesses independent of the outcome and up as often as the model's) is positive, and AUC is
  above 0.5. The asymptotic PT p-value is recorded but not gated: it assumes independent rows,
  and overlapping 5-day labels on co-moving tickers are far from that. The ``market`` profile
  computes both p-values from two-way clustered standard errors instead (``skill_variance =
  "two_way"``), which has the power to see an edge of AUC 0.60 (``bench/gates.py``). The level is
  ``skill_p_value`` spent over the candidates judged since production last changed
  (``repeated.py``); the report keeps the level used and why.

There is no accuracy-edge gate. Its baseline would have to be a constant known at training time
(always the training majority; the holdout's own majority is hindsight), and then the edge
measures how far the holdout's share of ups moved since training as much as it measures the
model: when the training majority was "down" and the holdout rises, a model that says "up"
more often than not beats that baseline without knowing which rows go up. PT conditions on both
shares and asks only whether forecasts and outcomes agree more than chance, which is the skill
question; the level of accuracy is ``min_accuracy``'s job. The edge over the training majority
and its bootstrap p-value are still recorded with the metrics (``accuracy_edge``,
``skill_p_value_accuracy``). ``bench/gates.py`` measures all of these on 500 pure-noise markets:
at p < 0.05 ``skill_pt`` passed 0.6 % and ``skill_auc`` 0.8 % of them, the accuracy edge 7 % of
those with a common market factor, and the asymptotic PT p-value 7.6 % overall.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .metrics import SkillTest
from .repeated import RepeatedTesting

SEED_THRESHOLDS = ("min_f1_score", "min_accuracy")  # the seed's absolute gates


@dataclass(frozen=True)
class Gate:
    name: str
    value: float
    threshold: float
    passed: bool
    rule: str  # how value is compared with threshold, in words

    def describe(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.name}: {self.value:.4f} ({self.rule} {self.threshold:.4f}) {verdict}"


@dataclass(frozen=True)
class ChampionComparison:
    """Candidate and production metrics, on the same rows when production may be scored there."""

    # "paired": both scored on the same rows, after production's holdout plus purge;
    # "recorded": too few such rows, production's own recorded holdout metrics (a fallback)
    source: str
    reason: str
    days: int
    rows: int
    candidate: dict[str, float]
    production: dict[str, float]
    fallback: bool = False  # True when not on the same rows


@dataclass
class GateReport:
    gates: list[Gate] = field(default_factory=list)
    forced: bool = False
    profile: str = "seed"
    repeated_testing: RepeatedTesting | None = None

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def failed(self) -> list[Gate]:
        return [gate for gate in self.gates if not gate.passed]

    @property
    def deploy(self) -> bool:
        """Deploy when every gate passed, or when forced (which the record keeps)."""
        return self.passed or self.forced

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "forced": self.forced,
            "gates": [asdict(gate) for gate in self.gates],
            "profile": self.profile,
            "repeated_testing": (
                self.repeated_testing.to_dict() if self.repeated_testing else None
            ),
        }


def _relative_drop(previous: float, current: float) -> float:
    return (previous - current) / previous if previous > 0 else 0.0


def evaluate_gates(
    holdout: dict[str, float],
    *,
    min_f1_score: float | None,
    min_accuracy: float | None,
    max_performance_drop: float | None,
    comparison: ChampionComparison | None = None,
    skill: SkillTest | None = None,
    skill_p_value: float = 0.05,
    forced: bool = False,
    profile: str = "seed",
    repeated_testing: RepeatedTesting | None = None,
) -> GateReport:
    """Apply every configured gate (a threshold of None is a gate switched off).

    With ``repeated_testing`` the skill gates use its ``effective_alpha`` instead of
    ``skill_p_value``.
    """
    gates = []
    if min_f1_score is not None:
        f1 = holdout["f1_score"]
        gates.append(Gate("min_f1_score", f1, min_f1_score, f1 > min_f1_score, ">"))
    if min_accuracy is not None:
        accuracy = holdout["accuracy"]
        gates.append(Gate("min_accuracy", accuracy, min_accuracy, accuracy > min_accuracy, ">"))
    if comparison is not None and max_performance_drop is not None:
        for metric in ("f1_score", "accuracy"):
            drop = _relative_drop(comparison.production[metric], comparison.candidate[metric])
            name = "max_f1_drop" if metric == "f1_score" else "max_accuracy_drop"
            gates.append(Gate(name, drop, max_performance_drop, drop <= max_performance_drop, "<="))
    if repeated_testing is not None:
        skill_p_value = repeated_testing.effective_alpha
    if skill is not None:
        gates.append(
            Gate(
                "skill_pt",
                skill.p_value_pt,
                skill_p_value,
                skill.p_value_pt < skill_p_value,
                "p <",
            )
        )
        gates.append(
            Gate(
                "skill_auc",
                skill.p_value_auc,
                skill_p_value,
                skill.p_value_auc < skill_p_value,
                "p <",
            )
        )
    return GateReport(gates, forced=forced, profile=profile, repeated_testing=repeated_testing)
