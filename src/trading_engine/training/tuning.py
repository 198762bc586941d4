"""Hyperparameter search for the weekly full retrain (Optuna over purged walk-forward folds)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ..features.dataset import Dataset
from .trainer import (
    FoldTrainer,
    Progress,
    cross_validate,
    lightgbm_params,
    no_progress,
    splitter_from,
)

if TYPE_CHECKING:
    import optuna

    from ..config import RetrainingSettings


def tune_hyperparameters(
    dataset: Dataset,
    settings: RetrainingSettings,
    *,
    n_trials: int | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Best LightGBM parameters by mean walk-forward log loss, within the trial and time budget.

    Only the development period is searched (the holdout is never seen), with the same purged
    folds as validation and one LightGBM dataset shared by every trial.
    """
    import optuna  # here, not at the top: only the weekly full retrain pays for its import

    labeled = dataset.labeled()
    splitter = splitter_from(settings)
    develop, _ = splitter.holdout_split(labeled.dates, labeled.label_end)
    dates, label_end, y = labeled.dates[develop], labeled.label_end[develop], labeled.y[develop]
    booster = FoldTrainer(labeled.X[develop], y, settings)

    trials = n_trials or settings.tuning.n_trials

    def objective(trial: optuna.Trial) -> float:
        progress("tuning trial", trial.number, trials)
        overrides = {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 1000, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }
        folds = cross_validate(
            booster, dates, label_end, y, splitter, lightgbm_params(settings, overrides)
        )
        return float(np.mean([fold.metrics["log_loss"] for fold in folds]))

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=settings.seed)
    )
    study.optimize(
        objective,
        n_trials=trials,
        timeout=settings.tuning.timeout_seconds,
    )
    return dict(study.best_params)
