"""Honest training: purged date splits, LightGBM, metrics, gates."""

from .gates import ChampionComparison, Gate, GateReport, evaluate_gates
from .metrics import block_bootstrap_skill, classification_metrics, roc_auc
from .model import TrainedModel
from .splits import PurgedWalkForward
from .trainer import TrainingResult, score_model, train_and_evaluate
from .tuning import tune_hyperparameters

__all__ = [
    "ChampionComparison",
    "Gate",
    "GateReport",
    "PurgedWalkForward",
    "TrainedModel",
    "TrainingResult",
    "block_bootstrap_skill",
    "classification_metrics",
    "evaluate_gates",
    "roc_auc",
    "score_model",
    "train_and_evaluate",
    "tune_hyperparameters",
]
