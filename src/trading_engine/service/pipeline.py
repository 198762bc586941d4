"""One retrain, as a function: (settings, market snapshot, production, clock) -> run record.

    pre-flight -> build dataset -> (tune) -> train and evaluate  } side by side
                                -> audit for look-ahead             }
    -> judge -> deploy through the store

The look-ahead audit runs here, in a thread beside the training, because it needs both the
market (raw columns, past returns, histories to cut at earlier dates) and the dataset (the
features as the model sees them); the trainer adds its holdout check and turns it into the
gate ``lookahead``, which is judged before anything is deployed.

No file I/O of its own: the runner loads the market and holds the writer's session; a replay
can call the same function on data cut at any date with its own store.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..config import Settings
from ..data import MarketData
from ..errors import DataError
from ..features import dataset_from_market
from ..features.dataset import Dataset
from ..records import (
    Comparison,
    FoldSummary,
    GateResult,
    GateVerdict,
    HoldoutMetrics,
    LookaheadRecord,
    RepeatedTestingRecord,
    RunRecord,
)
from ..store import ModelRegistry, WriteSession
from ..training import tune_hyperparameters
from ..training.gates import SEED_THRESHOLDS, GateReport
from ..training.lookahead import GATE_NAME as LOOKAHEAD_GATE
from ..training.lookahead import LookaheadAudit, Thresholds, audit_retrain
from ..training.model import StoredModel
from ..training.preflight import preflight_market
from ..training.repeated import CandidateHistory, PriorCandidate
from ..training.trainer import (
    Candidate,
    Progress,
    TrainingResult,
    fit_candidate,
    judge_candidate,
    no_progress,
)


@dataclass(frozen=True)
class PreparedCandidate:
    """The part of a retrain that needs no production model: it may run anywhere, in parallel."""

    candidate: Candidate
    lookahead: LookaheadAudit | None
    tuned_params: dict[str, Any] | None


@dataclass(frozen=True)
class PipelineResult:
    run: RunRecord  # deployed (already committed by the store) or rejected (not yet saved)
    tuned_params: dict[str, Any] | None = None


def gate_verdict(report: GateReport) -> GateVerdict:
    level = report.repeated_testing
    return GateVerdict(
        passed=report.passed,
        forced=report.forced,
        gates=[GateResult(**asdict(gate)) for gate in report.gates],
        profile=report.profile,
        repeated_testing=(RepeatedTestingRecord.model_validate(level.to_dict()) if level else None),
    )


def candidate_history(store: ModelRegistry) -> CandidateHistory:
    """The candidates judged since production last changed, from the store's run history.

    A deploy or a rollback starts a new family (``training/repeated.py``); every run since
    that was judged (it has a holdout) counts, whatever gate it failed.
    """
    changes = store.deployments(limit=1)
    since = changes[-1].at if changes else None
    prior: list[PriorCandidate] = []
    page, offset = 200, 0
    while True:  # only the family's runs are read: a replay's store holds every run
        runs = store.runs_since(since, limit=page, offset=offset)
        for run in runs:
            start = run.metrics.holdout_start if run.metrics else None
            if run.outcome == "rejected" and start:
                prior.append(PriorCandidate(run.started_at, start))
        if len(runs) < page:
            return CandidateHistory(tuple(prior), since)
        offset += page


def only_seed_thresholds_failed(verdict: GateVerdict) -> bool:
    """True when every failed gate is one of the seed's absolute thresholds and skill passed."""
    failed = {gate.name for gate in verdict.failed}
    skill = [gate for gate in verdict.gates if gate.name.startswith("skill_")]
    return (
        bool(failed)
        and failed <= set(SEED_THRESHOLDS)
        and bool(skill)
        and all(gate.passed for gate in skill)
    )


def deploy_reason(verdict: GateVerdict, trigger: str) -> str:
    if not verdict.forced:
        return f"{trigger} retrain passed every gate"
    failed = [gate.name for gate in verdict.failed]
    if failed:
        return f"forced deployment: failed gate(s) {', '.join(failed)} overridden"
    return "forced deployment (every gate passed anyway)"


def explain_rejection(
    metrics: HoldoutMetrics | None,
    failed: list[GateResult],
    lookahead: LookaheadRecord | None = None,
    verdict: GateVerdict | None = None,
) -> str:
    """The gate names, then what the candidate did, in words a person can weigh.

    A failed ``lookahead`` gate comes first, with every leak named and why: a leak makes the
    metrics after it meaningless. When only the seed's absolute thresholds failed while the
    skill gates passed, it says so and names the ``market`` profile; when a skill gate failed
    at a level made stricter by earlier candidates, it gives the level and why.
    """
    reason = f"failed gate(s): {', '.join(gate.name for gate in failed)}"
    said: list[str] = []
    if verdict is not None and only_seed_thresholds_failed(verdict):
        said.append(
            "only the seed's absolute thresholds (F1 > 0.65, accuracy > 0.70) failed while the "
            "skill gates passed: real daily-direction edges rarely reach them; the 'market' "
            'profile (retraining.gate_profile = "market") judges by skill, the look-ahead '
            "audit and production on the same unseen rows instead"
        )
    level = verdict.repeated_testing if verdict is not None else None
    if level is not None and any(gate.name.startswith("skill_") for gate in failed):
        said.append(f"skill judged at p < {level.effective_alpha:.4f}: {level.reason}")
    if lookahead is not None and any(gate.name == LOOKAHEAD_GATE for gate in failed):
        said.extend(f"look-ahead in {finding.message()}" for finding in lookahead.leaks)
    if metrics is None:
        return f"{reason}: {'; '.join(said)}" if said else reason
    if metrics.predicted_up is not None:
        said.append(f"it predicts up for {metrics.predicted_up:.0%} of the holdout rows")
    if metrics.accuracy is not None and metrics.base_rate is not None:
        always_up = metrics.base_rate
        text = f"accuracy {metrics.accuracy:.3f} against {always_up:.3f} for always-up"
        if metrics.train_base_rate is not None:
            majority_up = metrics.train_base_rate >= 0.5
            guess = always_up if majority_up else 1 - always_up
            text += (
                f" and {guess:.3f} for the training majority "
                f"({metrics.train_base_rate:.0%} of training labels were up)"
            )
        said.append(text)
    if metrics.accuracy is not None and metrics.chance_accuracy is not None:
        # Gate skill_pt: Pesaran-Timmermann, hits above those of random guesses up as often.
        text = f"{metrics.chance_accuracy:.3f} expected by guessing up as often at random"
        if metrics.skill_p_value_pt is not None:
            text += f" (p {metrics.skill_p_value_pt:.3f} that it does no better)"
        said.append(text)
    if metrics.roc_auc is not None:
        text = f"AUC {metrics.roc_auc:.3f}"
        if metrics.skill_p_value_auc is not None:
            text += f" (p {metrics.skill_p_value_auc:.3f} that it has no edge)"
        said.append(text)
    for gate in failed:
        if gate.name in ("max_f1_drop", "max_accuracy_drop"):
            what = "F1" if gate.name == "max_f1_drop" else "accuracy"
            said.append(
                f"{what} {gate.value:.1%} below production's (at most {gate.threshold:.0%})"
            )
    return f"{reason}: {'; '.join(said)}" if said else reason


def lookahead_record(audit: LookaheadAudit | None) -> LookaheadRecord | None:
    return LookaheadRecord.model_validate(audit.to_dict()) if audit is not None else None


def _evaluated(run: RunRecord, result: TrainingResult, production: StoredModel | None) -> RunRecord:
    return run.model_copy(
        update={
            "samples": result.samples,
            "tickers": result.tickers,
            "metrics": HoldoutMetrics.model_validate(result.metrics),
            "previous_metrics": (
                HoldoutMetrics.model_validate(production.model.metrics) if production else None
            ),
            "previous_version": production.version if production else None,
            "gates": gate_verdict(result.gates),
            "timings": {key: round(value, 4) for key, value in result.timings.items()},
            "folds": [
                FoldSummary(
                    fold=fold.fold,
                    test_dates=fold.test_dates,
                    f1_score=fold.metrics["f1_score"],
                    accuracy=fold.metrics["accuracy"],
                )
                for fold in result.folds
            ],
            "comparison": (
                Comparison.model_validate(asdict(result.comparison)) if result.comparison else None
            ),
            "lookahead": lookahead_record(result.lookahead),
        }
    )


def prepare_candidate(
    settings: Settings,
    market: MarketData,
    *,
    full: bool = False,
    params: dict[str, Any] | None = None,
    dataset: Dataset | None = None,
    progress: Progress = no_progress,
    audit: LookaheadAudit | None = None,
    measure_cv: bool = True,
) -> PreparedCandidate:
    """Pre-flight, features, look-ahead audit, (tuning,) fit and holdout score.

    ``dataset`` is the market's rows when already built (a replay masks features computed once
    by date; point in time, they equal features built on the cut market). ``audit``: the
    look-ahead audit already run on a history this market is a prefix of (a replay audits its
    whole history once), used instead of auditing again. ``measure_cv``: see
    ``fit_candidate``.
    """
    retraining = settings.retraining
    check = preflight_market(market, retraining)  # fail in one line before any training
    if not check.fits:
        raise DataError(check.problem)
    if dataset is None:
        progress("building features", 0, 1)
        dataset = dataset_from_market(
            market, horizon=retraining.horizon, features=retraining.features
        )
    # The audit (numpy, TA-Lib and LAPACK on one thread) runs beside the training (LightGBM,
    # which releases the GIL): neither reads what the other computes, and the cores the folds
    # leave idle at their end take the audit's work. An audit error surfaces once the training
    # is done, before any judging.
    with ThreadPoolExecutor(1, thread_name_prefix="audit") as beside:
        running = (
            beside.submit(audit_retrain, market, dataset, Thresholds.from_settings(retraining))
            if retraining.lookahead_gate and audit is None
            else None
        )
        tuned = None
        if full:
            tuned = tune_hyperparameters(dataset, retraining, progress=progress)
            params = tuned
        candidate = fit_candidate(
            dataset, retraining, params=params, progress=progress, measure_cv=measure_cv
        )
        lookahead = running.result() if running is not None else audit
    if not retraining.lookahead_gate:
        lookahead = None
    return PreparedCandidate(candidate, lookahead, tuned)


def run_retrain(
    settings: Settings,
    market: MarketData,
    production: StoredModel | None,
    *,
    clock: Callable[[], datetime],
    store: ModelRegistry,
    session: WriteSession,
    run: RunRecord,
    params: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    prepared: PreparedCandidate | None = None,
) -> PipelineResult:
    """Train, judge and (when the gates or ``run.forced`` say so) deploy one candidate.

    ``run`` is the record started by the caller (id, trigger, flags, data findings). With
    ``run.full`` the hyperparameters are tuned first and returned for the caller to keep.
    ``prepared``: the candidate already trained by ``prepare_candidate`` on this market (a
    replay trains candidates in parallel, then judges them here in order).
    """
    retraining = settings.retraining
    if prepared is None:
        prepared = prepare_candidate(
            settings, market, full=run.full, params=params, progress=progress
        )
    tuned = prepared.tuned_params
    result = judge_candidate(
        prepared.candidate,
        production.model if production else None,
        retraining,
        force=run.forced,
        progress=progress,
        lookahead=prepared.lookahead,
        history=candidate_history(store) if retraining.repeated_testing else None,
    )
    evaluated = _evaluated(run, result, production)
    verdict = evaluated.gates
    assert verdict is not None
    started = datetime.fromisoformat(run.started_at)
    finished_at = clock()
    finished = {
        "finished_at": finished_at.isoformat(),
        "duration_seconds": round((finished_at - started).total_seconds(), 3),
    }
    if not result.gates.deploy:
        reason = explain_rejection(evaluated.metrics, verdict.failed, evaluated.lookahead, verdict)
        rejected = evaluated.model_copy(
            update={**finished, "outcome": "rejected", "reason": reason}
        )
        return PipelineResult(rejected, tuned)
    version = store.new_version_id()
    reason = deploy_reason(verdict, run.trigger)
    deployed = evaluated.model_copy(
        update={**finished, "outcome": "deployed", "reason": reason, "version": version}
    )
    data = result.model.to_bytes(
        {
            "version": version,
            "created_at": finished_at.isoformat(),
            "run_id": run.run_id,
            "gate_report": verdict.to_json(),
            "forced": run.forced,
            "data_source": run.data.to_json() if run.data else None,
        }
    )
    store.deploy(session, version, data, run=deployed, reason=reason, forced=run.forced)
    return PipelineResult(deployed, tuned)
