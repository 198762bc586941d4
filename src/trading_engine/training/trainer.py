"""Train a candidate and judge it: purged walk-forward CV, final fit, holdout, gates.

``train_and_evaluate`` does no file I/O; the service stores what it returns.

The LightGBM dataset (feature binning) is built once, on the development period only, and
every fold, early-stopping split and the final fit take row subsets of it. Bin edges are
label-free quantiles of the development features; the holdout never influences them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cores import available_cores
from ..features.dataset import Dataset
from ._lightgbm import import_lightgbm
from .gates import ChampionComparison, GateReport, evaluate_gates
from .lookahead import LookaheadAudit
from .metrics import SkillTest, block_bootstrap_skill, classification_metrics
from .model import TrainedModel
from .repeated import CandidateHistory, RepeatedTesting, repeated_testing
from .splits import PurgedWalkForward

if TYPE_CHECKING:
    from ..config import RetrainingSettings

if TYPE_CHECKING:
    import lightgbm as lgb
else:  # through the helper: no scikit-learn, a passive OpenMP wait policy
    lgb = import_lightgbm()

Progress = Callable[[str, int, int], None]  # (what, done, total)


def no_progress(what: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class FoldResult:
    fold: int
    train_rows: int
    test_rows: int
    train_dates: tuple[str, str]
    test_dates: tuple[str, str]
    best_iteration: int
    rounds_trained: int  # best iteration plus the early-stopping patience
    metrics: dict[str, float]


@dataclass
class TrainingResult:
    """Everything a retrain produced: the model, how it scored, and the verdict."""

    model: TrainedModel
    metrics: dict[str, Any]  # holdout metrics, cv_mean / cv_std, date ranges, counts
    folds: list[FoldResult]
    gates: GateReport
    comparison: ChampionComparison | None
    timings: dict[str, float]
    samples: int
    tickers: int
    params: dict[str, Any] = field(default_factory=dict)
    lookahead: LookaheadAudit | None = None  # the look-ahead audit, holdout check included

    @property
    def forced(self) -> bool:
        return self.gates.forced


def splitter_from(settings: RetrainingSettings) -> PurgedWalkForward:
    return PurgedWalkForward(
        n_splits=settings.n_splits,
        horizon=settings.horizon,
        embargo=settings.embargo,
        holdout_days=settings.holdout_days,
        window=settings.window,
        max_train_days=settings.max_train_days,
    )


def lightgbm_params(settings: RetrainingSettings, overrides: dict[str, Any] | None = None) -> dict:
    """LightGBM parameters: settings, then tuned overrides; deterministic and seeded."""
    tree = settings.lightgbm
    params = {
        "objective": "binary",
        "learning_rate": tree.learning_rate,
        "num_leaves": tree.num_leaves,
        "min_data_in_leaf": tree.min_data_in_leaf,
        "feature_fraction": tree.feature_fraction,
        "bagging_fraction": tree.bagging_fraction,
        "bagging_freq": tree.bagging_freq,
        "lambda_l2": tree.lambda_l2,
        "num_threads": tree.num_threads or available_cores(),
        "seed": settings.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }
    params.update(overrides or {})
    return params


class FoldTrainer:
    """Fits on row subsets of one LightGBM dataset built once."""

    def __init__(self, X: np.ndarray, y: np.ndarray, settings: RetrainingSettings) -> None:
        self.settings = settings
        self.data = lgb.Dataset(
            X,
            label=y,
            params={
                "max_bin": settings.lightgbm.max_bin,
                "feature_pre_filter": False,  # tuning changes min_data_in_leaf later
                "verbosity": -1,
            },
            free_raw_data=False,
        ).construct()

    def fit(self, fit_rows: np.ndarray, stop_rows: np.ndarray, params: dict) -> lgb.Booster:
        """Train on ``fit_rows``; stop when ``stop_rows`` (a later, purged block) stop improving."""
        patience = self.settings.lightgbm.early_stopping_rounds
        return lgb.train(
            params,
            self.data.subset(fit_rows.tolist()),
            num_boost_round=self.settings.lightgbm.max_rounds,
            valid_sets=[self.data.subset(stop_rows.tolist())],
            callbacks=[lgb.early_stopping(patience, verbose=False)],
        )

    def fit_all(self, rounds: int, params: dict) -> lgb.Booster:
        """Train on every row for ``rounds`` rounds: on the dataset itself, not a copy."""
        return lgb.train(params, self.data, num_boost_round=max(1, rounds))


def _date_range(dates: np.ndarray) -> tuple[str, str]:
    return (str(dates.min()), str(dates.max())) if len(dates) else ("", "")


def fold_workers(params: dict, folds: int, settings: RetrainingSettings) -> tuple[int, dict]:
    """How many folds to fit at once, and the LightGBM parameters of each.

    With the thread count left to us (``num_threads = 0``), folds are fitted side by side, one
    LightGBM thread each, as many as there are cores. On a few tens of thousands of rows a
    tree's parallel regions are too short for several threads to pay off (two threads fit a
    fold 1.3x faster than one, two folds side by side 2x), and single-threaded fits meet no
    OpenMP barrier at which to wait for a core another process holds. Each fold's result does
    not depend on this choice: every fold is fitted with one thread either way.
    """
    cores = available_cores()
    if settings.lightgbm.num_threads or cores == 1 or folds < 2:
        return 1, params
    return min(cores, folds), {**params, "num_threads": 1}


class WalkForward:
    """The development rows, their purged walk-forward splits and one binned LightGBM dataset:
    fits folds (early stopping on each fold's newest training dates) and the final model."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        dates: np.ndarray,
        label_end: np.ndarray,
        settings: RetrainingSettings,
    ) -> None:
        self.trainer = FoldTrainer(X, y, settings)
        self.settings, self.y, self.dates, self.label_end = settings, y, dates, label_end
        self.splitter = splitter_from(settings)
        self.splits = list(self.splitter.split(dates, label_end))
        self.matrix = X

    def fit_fold(self, fold: int, params: dict) -> FoldResult:
        train, test = self.splits[fold]
        fit_local, stop_local = self.splitter.inner_validation(
            self.dates[train], self.label_end[train], self.settings.early_stopping_days
        )
        model = self.trainer.fit(train[fit_local], train[stop_local], params)
        probability = model.predict(
            self.matrix[test], num_iteration=model.best_iteration, num_threads=1
        )
        assert isinstance(probability, np.ndarray)  # dense input: never a list or sparse matrix
        return FoldResult(
            fold=fold,
            train_rows=len(train),
            test_rows=len(test),
            train_dates=_date_range(self.dates[train]),
            test_dates=_date_range(self.dates[test]),
            best_iteration=model.best_iteration,
            rounds_trained=model.current_iteration(),
            metrics=classification_metrics(self.y[test], probability),
        )

    def cross_validate(self, params: dict, progress: Progress = no_progress) -> list[FoldResult]:
        """Every fold, side by side when the cores allow (``fold_workers``)."""
        count = len(self.splits)
        workers, fold_params = fold_workers(params, count, self.settings)
        if workers == 1:
            folds = []
            for fold in range(count):
                progress("walk-forward fold", fold, count)
                folds.append(self.fit_fold(fold, fold_params))
            return folds
        # LightGBM releases the GIL while it trains, so threads are enough.
        with ThreadPoolExecutor(workers, thread_name_prefix="fold") as pool:
            futures = [pool.submit(self.fit_fold, fold, fold_params) for fold in range(count)]
            for fold, future in enumerate(futures):
                progress("walk-forward fold", fold, count)
                future.result()
        return [future.result() for future in futures]

    def final_fit(self, newest: FoldResult, params: dict) -> tuple[lgb.Booster, int]:
        """The model on every development row, with as many rounds as early stopping chose in
        the newest fold (the closest in time and size), scaled by how much more data it has."""
        rows = len(self.dates)
        rounds = round(newest.best_iteration * rows / max(1, newest.train_rows))
        rounds = min(self.settings.lightgbm.max_rounds, max(1, rounds))
        return self.trainer.fit_all(rounds, params), rounds

    def validate_and_fit(
        self, params: dict, progress: Progress = no_progress, *, older_folds: bool = True
    ) -> tuple[list[FoldResult], lgb.Booster, int]:
        """The walk-forward folds, then the final fit on every development row.

        The final fit needs only the newest fold (its round count), so with several cores it
        starts as soon as that fold is done, in the same thread, while the older, smaller folds
        run beside it: the newest fold plus the final fit weigh about as much as all the older
        folds together. Every fit runs on one LightGBM thread then; LightGBM's trees do not
        depend on the thread count (``deterministic``, column-wise histograms), so the model is
        the one a sequential run fits. With more cores than folds the folds run side by side
        and the final fit then takes every core instead. ``older_folds=False`` fits the newest
        fold only: the same model; the older folds only measure ``cv_mean``/``cv_std``.
        """
        newest = len(self.splits) - 1
        if not older_folds:
            progress("walk-forward fold", 0, 1)
            only = self.fit_fold(newest, params)
            progress("final fit", 0, 1)
            return [only], *self.final_fit(only, params)
        workers, fold_params = fold_workers(params, len(self.splits) + 1, self.settings)
        if workers == 1 or available_cores() > len(self.splits):
            # One core, a thread count set, or more cores than folds: the folds side by side
            # (cross_validate), then the final fit on every core rather than on one.
            folds = self.cross_validate(params, progress)
            progress("final fit", 0, 1)
            return folds, *self.final_fit(folds[-1], params)

        def newest_then_final() -> tuple[FoldResult, lgb.Booster, int]:
            fold = self.fit_fold(newest, fold_params)
            return fold, *self.final_fit(fold, fold_params)

        with ThreadPoolExecutor(workers, thread_name_prefix="fold") as pool:
            final = pool.submit(newest_then_final)  # the longest chain first, then biggest folds
            older = {
                fold: pool.submit(self.fit_fold, fold, fold_params)
                for fold in reversed(range(newest))
            }
            for done, fold in enumerate(reversed(range(newest))):
                progress("walk-forward fold", done, len(self.splits))
                older[fold].result()
            progress("final fit", 0, 1)
            last, model, rounds = final.result()
        return [*(older[fold].result() for fold in range(newest)), last], model, rounds


def unselected_rows(
    model: TrainedModel, dates: np.ndarray, settings: RetrainingSettings
) -> tuple[np.ndarray, str]:
    """Rows the model was neither trained nor selected on, and a description of the cut.

    A deployed model was chosen for how it scored on its own holdout, so those rows favour it:
    only dates after its holdout's end plus the purge (``horizon + embargo`` business days, as
    between training and evaluation) qualify. A model whose record has no holdout end (older
    releases) falls back to its last training label plus the embargo, and says so.
    """
    holdout_end = model.metrics.get("holdout_end")
    if holdout_end:
        gap = settings.horizon + settings.embargo
        cut = np.busday_offset(np.datetime64(str(holdout_end), "D"), gap, roll="forward")
        return dates > cut, f"after production's holdout end {holdout_end} plus purge"
    return (
        unseen_rows(model, dates, settings.embargo),
        f"after production's training end {model.train_end} plus purge (its record has no "
        "holdout end, so its holdout rows may be among them)",
    )


def compare_with_production(
    production: TrainedModel | None,
    holdout: Dataset,
    candidate_probability: np.ndarray,
    settings: RetrainingSettings,
) -> ChampionComparison | None:
    """Score production on the candidate's holdout rows neither model was selected on.

    Only holdout dates after production's own holdout end plus the purge qualify
    (``unselected_rows``). When fewer than ``min_paired_days`` such dates exist (or the features
    differ), production's own recorded holdout metrics are used instead: the comparison's
    source is then ``"recorded"``, ``fallback`` is True and its reason says why and that the
    rows differ.
    """
    if production is None:
        return None
    candidate_all = classification_metrics(holdout.y, candidate_probability)
    recorded = {k: production.metrics.get(k, float("nan")) for k in ("f1_score", "accuracy")}

    def fallback(reason: str) -> ChampionComparison:
        return ChampionComparison(
            "recorded",
            f"FALLBACK, not the same rows: {reason}; its recorded metrics are used (from its "
            "own holdout), against the candidate's whole holdout",
            0,
            0,
            candidate_all,
            recorded,
            fallback=True,
        )

    if tuple(production.feature_names) != tuple(holdout.feature_names):
        return fallback("production uses different features")
    unseen, where = unselected_rows(production, holdout.dates, settings)
    days = len(np.unique(holdout.dates[unseen]))
    if days < settings.min_paired_days:
        return fallback(f"only {days} holdout date(s) {where} (need {settings.min_paired_days})")
    production_probability = production.predict_proba(holdout.X[unseen])
    return ChampionComparison(
        "paired",
        f"both scored on the {days} holdout dates {where}",
        days,
        int(unseen.sum()),
        classification_metrics(holdout.y[unseen], candidate_probability[unseen]),
        classification_metrics(holdout.y[unseen], production_probability),
    )


@dataclass
class Candidate:
    """A fitted candidate scored on its holdout, before any comparison with production.

    Fitting depends only on the data and the settings, so candidates at different dates can be
    fitted in parallel (a replay); judging needs production and runs in order.
    """

    model: TrainedModel
    metrics: dict[str, Any]  # holdout metrics, cv_mean / cv_std, date ranges, counts
    holdout_metrics: dict[str, float]
    folds: list[FoldResult]
    holdout: Dataset
    probability: np.ndarray  # the candidate's probability of "up" on each holdout row
    timings: dict[str, float]
    samples: int
    tickers: int


def fit_candidate(
    dataset: Dataset,
    settings: RetrainingSettings,
    *,
    params: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    measure_cv: bool = True,
) -> Candidate:
    """Cross-validate, fit the final model and score it once on the holdout.

    The model returned is exactly the model the holdout scored: no refit after validation.
    ``params`` are tuned hyperparameters when given: ``cv_mean`` is then measured on the folds
    the tuning searched over, and the metrics say so (``cv_note``).
    ``measure_cv=False`` skips the folds whose only use is ``cv_mean``/``cv_std`` (None then):
    the same model and holdout scores, for callers that never show them (a replay).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    labeled = dataset.labeled()
    develop_rows, holdout_rows = splitter_from(settings).holdout_split(
        labeled.dates, labeled.label_end
    )
    walk = WalkForward(
        labeled.X[develop_rows],
        labeled.y[develop_rows],
        labeled.dates[develop_rows],
        labeled.label_end[develop_rows],
        settings,
    )
    dates, label_end, y = walk.dates, walk.label_end, walk.y
    model_params = lightgbm_params(settings, params)
    timings["prepare"] = time.perf_counter() - clock

    clock = time.perf_counter()
    folds, final, rounds = walk.validate_and_fit(model_params, progress, older_folds=measure_cv)
    timings["cross_validation_and_fit"] = time.perf_counter() - clock

    clock = time.perf_counter()
    in_holdout = np.zeros(len(labeled), dtype=bool)
    in_holdout[holdout_rows] = True
    holdout = labeled.take(in_holdout)
    model = TrainedModel(
        booster=final,
        feature_names=dataset.feature_names,
        horizon=dataset.horizon,
        train_start=str(dates.min()),
        train_end=str(dates.max()),
        label_end=str(label_end.max()),
        params={**model_params, "num_boost_round": final.current_iteration()},
    )
    probability = model.predict_proba(holdout.X)
    holdout_metrics = classification_metrics(holdout.y, probability)
    fold_f1 = np.array([fold.metrics["f1_score"] for fold in folds])
    metrics: dict[str, Any] = {
        **holdout_metrics,
        "cv_mean": float(fold_f1.mean()) if measure_cv else None,
        "cv_std": float(fold_f1.std()) if measure_cv else None,
        "train_rows": len(develop_rows),
        "holdout_rows": len(holdout_rows),
        "train_start": model.train_start,
        "train_end": model.train_end,
        "holdout_start": str(holdout.dates.min()),
        "holdout_end": str(holdout.dates.max()),
        "horizon": dataset.horizon,
        "purge_gap_days": walk.splitter.gap,
        "final_rounds": rounds,
        "predicted_up": float(np.mean(probability > 0.5)),
        "train_base_rate": float(np.mean(y)),
        "cv_tuned": bool(params),
        "cv_note": (
            "not measured: only the newest walk-forward fold was fitted (it sets the final "
            "fit's rounds; the model is the same)"
            if not measure_cv
            else "F1 on the walk-forward folds the hyperparameters were tuned on (Optuna "
            "minimised their mean log loss): the tuning objective's folds, so optimistic, not "
            "an out-of-sample estimate; the holdout figures are"
            if params
            else "F1 on purged walk-forward folds with untuned hyperparameters"
        ),
    }
    timings["holdout"] = time.perf_counter() - clock
    return Candidate(
        model=model,
        metrics=metrics,
        holdout_metrics=holdout_metrics,
        folds=folds,
        holdout=holdout,
        probability=probability,
        timings=timings,
        samples=len(labeled),
        tickers=len(np.unique(labeled.ticker_codes)),
    )


def judge_candidate(
    candidate: Candidate,
    production_model: TrainedModel | None,
    settings: RetrainingSettings,
    *,
    force: bool = False,
    progress: Progress = no_progress,
    lookahead: LookaheadAudit | None = None,
    history: CandidateHistory | None = None,
) -> TrainingResult:
    """Compare a fitted candidate with production on the same rows and apply the gates.

    ``lookahead`` is the audit of the inputs (``lookahead.audit_retrain``, run where the market
    is known); its holdout check is added here and it becomes the gate ``lookahead``.
    ``history``: the candidates judged since production last changed (from the store), which
    set the skill gates' level when ``settings.repeated_testing``; None = no earlier candidate.
    """
    clock = time.perf_counter()
    progress("holdout and skill test", 0, 1)
    timings = dict(candidate.timings)
    metrics = dict(candidate.metrics)
    holdout, probability = candidate.holdout, candidate.probability
    comparison = compare_with_production(production_model, holdout, probability, settings)
    if lookahead is not None:
        lookahead = lookahead.judge_holdout(candidate.holdout_metrics["roc_auc"])
        timings["lookahead"] = lookahead.seconds
    level = None
    if settings.skill_gate and settings.repeated_testing:
        level = repeated_testing(
            history or CandidateHistory(),
            metrics["holdout_start"],
            alpha=settings.skill_p_value,
            holdout_days=settings.holdout_days,
        )
    gates, skill = judge(
        holdout,
        probability,
        settings,
        train_base_rate=metrics["train_base_rate"],
        metrics=candidate.holdout_metrics,
        comparison=comparison,
        force=force,
        lookahead=lookahead,
        level=level,
    )
    if skill is not None:
        metrics["pt_statistic"] = skill.pt_statistic
        metrics["pt_p_value"] = skill.pt_p_value
        metrics["chance_accuracy"] = skill.chance_accuracy
        metrics["skill_p_value_pt"] = skill.p_value_pt
        metrics["skill_p_value_auc"] = skill.p_value_auc
        metrics["accuracy_edge"] = skill.accuracy_edge
        metrics["skill_p_value_accuracy"] = skill.p_value_accuracy
    model = candidate.model
    model.metrics = metrics
    timings["holdout"] = timings.get("holdout", 0.0) + time.perf_counter() - clock
    return TrainingResult(
        model=model,
        metrics=metrics,
        folds=candidate.folds,
        gates=gates,
        comparison=comparison,
        timings=timings,
        samples=candidate.samples,
        tickers=candidate.tickers,
        params=model.params,
        lookahead=lookahead,
    )


def train_and_evaluate(
    dataset: Dataset,
    production_model: TrainedModel | None,
    settings: RetrainingSettings,
    *,
    params: dict[str, Any] | None = None,
    force: bool = False,
    progress: Progress = no_progress,
    lookahead: LookaheadAudit | None = None,
    history: CandidateHistory | None = None,
) -> TrainingResult:
    """Cross-validate, fit the final model, score it on the holdout and apply the gates
    (``fit_candidate`` then ``judge_candidate``)."""
    candidate = fit_candidate(dataset, settings, params=params, progress=progress)
    return judge_candidate(
        candidate,
        production_model,
        settings,
        force=force,
        progress=progress,
        lookahead=lookahead,
        history=history,
    )


def judge(
    rows: Dataset,
    probability: np.ndarray,
    settings: RetrainingSettings,
    *,
    train_base_rate: float | None,
    metrics: dict[str, float] | None = None,
    comparison: ChampionComparison | None = None,
    force: bool = False,
    lookahead: LookaheadAudit | None = None,
    level: RepeatedTesting | None = None,
) -> tuple[GateReport, SkillTest | None]:
    """Apply every configured gate to predictions on ``rows`` (the skill test included).

    ``train_base_rate`` is the share of up labels the model trained on: the accuracy edge is
    measured over always predicting that majority, a constant known before the holdout (None
    when unknown: no edge is measured). ``metrics`` are the classification metrics of these
    predictions when already computed.
    ``lookahead``, when given, adds its gate (it fails on any leak the audit found).
    ``level``, when given, is the skill gates' level after repeated testing.
    """
    skill = None
    if settings.skill_gate:
        skill = block_bootstrap_skill(
            rows.y,
            probability,
            rows.dates,
            rows.ticker_codes,
            train_base_rate=train_base_rate,
            samples=settings.bootstrap_samples,
            block_days=settings.block_days,
            seed=settings.seed,
            variance=settings.skill_variance,
        )
    gates = evaluate_gates(
        metrics or classification_metrics(rows.y, probability),
        min_f1_score=settings.min_f1_score,
        min_accuracy=settings.min_accuracy,
        max_performance_drop=settings.max_performance_drop,
        comparison=comparison,
        skill=skill,
        skill_p_value=settings.skill_p_value,
        forced=force,
        profile=settings.gate_profile,
        repeated_testing=level,
    )
    if lookahead is not None:
        gates.gates.append(lookahead.gate())
    return gates, skill


def unseen_rows(model: TrainedModel, dates: np.ndarray, embargo: int) -> np.ndarray:
    """Mask of rows dated after the model's last training label plus the embargo."""
    first_unseen = np.busday_offset(np.datetime64(model.label_end, "D"), embargo, roll="forward")
    return dates > first_unseen


def score_model(
    model: TrainedModel, dataset: Dataset, settings: RetrainingSettings
) -> tuple[dict[str, float], GateReport]:
    """Judge an existing model on the holdout rows of ``dataset`` that it never trained on.

    Used to re-check production on newer data, and to show that a model trained before a
    regime change fails after it. Raises ValueError when no such rows exist.
    """
    labeled = dataset.labeled()
    _, holdout_rows = splitter_from(settings).holdout_split(labeled.dates, labeled.label_end)
    rows = holdout_rows[unseen_rows(model, labeled.dates[holdout_rows], settings.embargo)]
    if len(rows) == 0:
        raise ValueError(
            f"no holdout rows after the model's training end {model.train_end} plus purge"
        )
    mask = np.zeros(len(labeled), dtype=bool)
    mask[rows] = True
    scored = labeled.take(mask)
    probability = model.predict_proba(scored.X)
    metrics = classification_metrics(scored.y, probability)
    train_base_rate = model.metrics.get("train_base_rate")  # None for a model that predates it
    gates, _ = judge(
        scored, probability, settings, train_base_rate=train_base_rate, metrics=metrics
    )
    return metrics, gates
