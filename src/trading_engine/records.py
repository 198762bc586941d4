"""Typed records that cross the seams: store, service, API, CLI and alerts all use these.

Each is a frozen pydantic model with one JSON form (``model_dump(mode="json")``); the API's
response models are built from them, so ``/openapi.json`` describes what endpoints return.
Records read back from the store ignore keys they do not know, so a newer release's records
(or an older release's extra keys) never make a page unreadable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The seed's production metrics, in the seed's order: `training_metrics.json` holds them as
# flat keys, status shows them as `current_metrics`, Prometheus gauges them.
METRIC_KEYS: tuple[str, ...] = (
    "f1_score",
    "accuracy",
    "precision",
    "recall",
    "roc_auc",
    "cv_mean",
    "cv_std",
)

Outcome = Literal["running", "deployed", "rejected", "failed", "interrupted", "skipped"]
JobStatus = Literal["queued", "running", "succeeded", "rejected", "failed", "interrupted"]
FINAL_JOB_STATUS: dict[str, JobStatus] = {
    "deployed": "succeeded",
    "rejected": "rejected",
    "failed": "failed",
    "interrupted": "interrupted",
    "skipped": "succeeded",
}


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


class HoldoutMetrics(Record):
    """How a candidate scored on its holdout (dates it never trained on), plus its CV."""

    f1_score: float | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    roc_auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    base_rate: float | None = None
    baseline_accuracy: float | None = None
    baseline_f1: float | None = None
    rows: int | None = None
    cv_mean: float | None = None
    cv_std: float | None = None
    train_rows: int | None = None
    holdout_rows: int | None = None
    train_start: str | None = None
    train_end: str | None = None
    holdout_start: str | None = None
    holdout_end: str | None = None
    horizon: int | None = None
    purge_gap_days: int | None = None
    final_rounds: int | None = None
    predicted_up: float | None = None  # share of holdout rows predicted "up"
    train_base_rate: float | None = None  # share of "up" labels in training: known beforehand
    pt_statistic: float | None = None  # Pesaran-Timmermann, asymptotic (independent rows)
    pt_p_value: float | None = None  # its p-value: reported, not gated
    chance_accuracy: float | None = None  # PT's P*: hits of guesses up as often, at random
    skill_p_value_pt: float | None = None  # bootstrap P(no PT excess): gate skill_pt
    skill_p_value_auc: float | None = None  # bootstrap P(AUC <= 0.5): gate skill_auc
    accuracy_edge: float | None = None  # over always the training majority: reported
    skill_p_value_accuracy: float | None = None  # bootstrap P(edge <= 0): reported, not gated
    cv_tuned: bool | None = None  # cv_mean measured on the folds tuning searched over
    cv_note: str | None = None  # what cv_mean is, in words

    def flat(self) -> dict[str, float | None]:
        """The seed's metric keys only."""
        return {key: getattr(self, key) for key in METRIC_KEYS}


class GateResult(Record):
    name: str
    value: float
    threshold: float
    passed: bool
    rule: str  # how value is compared with threshold: ">", "<=", "p <"


class RepeatedTestingRecord(Record):
    """The level the skill gates were held to after the candidates before (``repeated.py``)."""

    alpha: float
    effective_alpha: float
    window: int
    candidates: int
    since: str | None = None
    first_holdout_start: str
    holdout_days: int
    reason: str


class GateVerdict(Record):
    passed: bool
    forced: bool = False
    gates: list[GateResult] = Field(default_factory=list)
    profile: str | None = None  # retraining.gate_profile: "seed" or "market"
    repeated_testing: RepeatedTestingRecord | None = None

    @property
    def failed(self) -> list[GateResult]:
        return [gate for gate in self.gates if not gate.passed]


class FoldSummary(Record):
    fold: int
    test_dates: tuple[str, str]
    f1_score: float | None = None
    accuracy: float | None = None


class Comparison(Record):
    """Candidate against production: on the same unseen rows ("paired") or its record."""

    source: str
    reason: str
    days: int = 0
    rows: int = 0
    candidate: dict[str, float | None] = Field(default_factory=dict)
    production: dict[str, float | None] = Field(default_factory=dict)
    fallback: bool = False  # not on the same rows: production's recorded metrics were used


class DataRecord(Record):
    """The market a run (and the model it produced) was trained on."""

    provider: str
    folder: str | None = None
    tickers: list[str] = Field(default_factory=list)
    fingerprint: str | None = None  # equal fingerprints: no new or changed bars
    last_date: str | None = None

    def describe(self) -> str:
        where = f"{self.provider} {self.folder}" if self.folder else self.provider
        return f"{where}, {len(self.tickers)} ticker(s) up to {self.last_date}"


class FindingRecord(Record):
    """A data fault that changed a run: a file skipped, a ticker stale."""

    source: str
    problem: str
    detail: str
    action: str


class LookaheadFindingRecord(Record):
    """A look-ahead finding: a leak (fails the gate ``lookahead``) or a warning."""

    kind: str  # "input", "feature", "point_in_time" or "plausibility"
    subject: str  # the raw column, the feature, or "holdout"
    statistic: float
    threshold: float
    leak: bool
    why: str

    def message(self) -> str:
        return f"{self.subject}: {self.why}"


class AssociationRecord(Record):
    """How one raw column or feature relates to the forward and the past direction."""

    name: str
    forward_auc: float
    past_auc: float
    beyond_past_auc: float
    standard_error: float
    rows: int
    tickers: int
    transform: str = ""


class LookaheadRecord(Record):
    """The look-ahead audit of a run (``training/lookahead.py``)."""

    passed: bool = True
    findings: list[LookaheadFindingRecord] = Field(default_factory=list)
    associations: list[AssociationRecord] = Field(default_factory=list)
    point_in_time_checks: int = 0
    skipped: list[str] = Field(default_factory=list)
    seconds: float | None = None

    @property
    def leaks(self) -> list[LookaheadFindingRecord]:
        return [finding for finding in self.findings if finding.leak]

    @property
    def warnings(self) -> list[LookaheadFindingRecord]:
        return [finding for finding in self.findings if not finding.leak]


class RunRecord(Record):
    """One retrain, whatever its outcome. ``running`` until it ends; ``interrupted`` if it died."""

    run_id: str
    job_id: str | None = None
    trigger: str = "manual"
    full: bool = False
    forced: bool = False
    started_at: str
    finished_at: str | None = None
    duration_seconds: float | None = None
    version: str | None = None
    outcome: Outcome = "running"
    reason: str | None = None
    samples: int | None = None
    tickers: int | None = None
    metrics: HoldoutMetrics | None = None
    previous_metrics: HoldoutMetrics | None = None
    previous_version: str | None = None
    gates: GateVerdict | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    folds: list[FoldSummary] = Field(default_factory=list)
    comparison: Comparison | None = None
    data_findings: int = 0
    skipped: list[str] = Field(default_factory=list)
    data: DataRecord | None = None
    findings: list[FindingRecord] = Field(default_factory=list)  # those that changed the run
    lookahead: LookaheadRecord | None = None  # the look-ahead audit (gate ``lookahead``)
    owner_pid: int | None = None  # the process running it, to tell a live run from a dead one


class Deployment(Record):
    """A change of production: a deploy or a rollback."""

    kind: Literal["deploy", "rollback"]
    from_version: str | None = None
    to_version: str
    at: str
    reason: str = ""
    forced: bool = False
    run_id: str | None = None


class Job(Record):
    """A background retrain started through the API or the scheduler."""

    job_id: str
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    force: bool = False
    full: bool = False
    trigger: str = "manual"
    reason: str | None = None
    version: str | None = None


class VersionInfo(Record):
    """A stored model version, as ``models`` and ``/api/ml/models`` list it."""

    version: str
    path: str
    role: Literal["production", "backup"] | None = None
    created_at: str | None = None
    train_start: str | None = None
    train_end: str | None = None
    forced: bool = False
    verified: bool = True
    metrics: dict[str, float | None] = Field(default_factory=dict)
    data: DataRecord | None = None


class RollbackResult(Record):
    success: bool = True
    message: str
    version: str
    previous_version: str | None = None


class Prediction(Record):
    """One ticker's probability of an up-move over the horizon, from its newest bar."""

    ticker: str
    probability_up: float
    direction: str
    as_of: str
    horizon_days: int
    model_version: str
    stale: bool = False
    warning: str | None = None
