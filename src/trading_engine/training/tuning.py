"""Hyperparameter search for the weekly full retrain (Optuna over purged walk-forward folds).

Trials are asked in batches of ``tuning.parallel_trials`` and each batch is evaluated by a
``TrialEvaluator``: in this process one after the other by default, or spread over a process
pool or a Dask cluster by a replay (``service/replay.py``). Trial ``k``'s parameters depend
only on the seed, the batch size and the losses of the batches before it, so every engine
finds the same parameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..features.dataset import Dataset
from .trainer import Progress, WalkForward, lightgbm_params, no_progress, splitter_from

if TYPE_CHECKING:
    import optuna

    from ..config import RetrainingSettings

# Losses of a batch of trials' LightGBM overrides, in the batch's order.
TrialEvaluator = Callable[[Sequence[dict[str, Any]]], list[float]]


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space: LightGBM parameters a trial overrides."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 1000, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


class TrialLoss:
    """Mean walk-forward log loss of trial parameters on a dataset's development rows.

    The holdout is never seen; the folds are the retrain's own purged folds, and the LightGBM
    dataset (feature binning) is built once for every trial evaluated here.
    """

    def __init__(self, dataset: Dataset, settings: RetrainingSettings) -> None:
        labeled = dataset.labeled()
        develop, _ = splitter_from(settings).holdout_split(labeled.dates, labeled.label_end)
        self.settings = settings
        self.walk = WalkForward(
            labeled.X[develop],
            labeled.y[develop],
            labeled.dates[develop],
            labeled.label_end[develop],
            settings,
        )

    def __call__(self, overrides: dict[str, Any]) -> float:
        folds = self.walk.cross_validate(lightgbm_params(self.settings, overrides))
        return float(np.mean([fold.metrics["log_loss"] for fold in folds]))


def search(
    settings: RetrainingSettings,
    evaluate: TrialEvaluator,
    *,
    n_trials: int | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Best LightGBM parameters by ``evaluate``'s loss, asking ``tuning.parallel_trials``
    trials at a time, within the trial and time budget (checked between batches)."""
    import optuna  # here, not at the top: only the weekly full retrain pays for its import

    trials = n_trials or settings.tuning.n_trials
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=settings.seed)
    )
    started, done = time.monotonic(), 0
    while done < trials and time.monotonic() - started < settings.tuning.timeout_seconds:
        progress("tuning trial", done, trials)
        asked = [study.ask() for _ in range(min(settings.tuning.parallel_trials, trials - done))]
        losses = evaluate([suggest(trial) for trial in asked])
        for trial, value in zip(asked, losses, strict=True):
            study.tell(trial, value)
        done += len(asked)
    return dict(study.best_params)


def tune_hyperparameters(
    dataset: Dataset,
    settings: RetrainingSettings,
    *,
    n_trials: int | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """``search`` with every trial evaluated here, one after the other, on one LightGBM
    dataset (what a live full retrain does)."""
    loss = TrialLoss(dataset, settings)
    return search(
        settings,
        lambda batch: [loss(overrides) for overrides in batch],
        n_trials=n_trials,
        progress=progress,
    )
