"""A small real model for registry tests (trained in well under a second)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from trading_engine.training.model import TrainedModel


def tiny_model(seed: int = 0, f1: float = 0.7) -> TrainedModel:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = (X[:, 0] + rng.normal(0, 0.5, 300) > 0).astype(float)
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_threads": 1, "seed": seed},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    return TrainedModel(
        booster=booster,
        feature_names=("A", "B", "C"),
        horizon=5,
        train_start="2024-01-02",
        train_end="2025-06-30",
        label_end="2025-07-08",
        params={"num_boost_round": 5},
        metrics={"f1_score": f1, "accuracy": 0.72, "precision": 0.7, "recall": 0.7},
    )
