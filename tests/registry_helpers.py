"""A small real model for store tests (trained in well under a second), and a deploy helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from trading_engine.records import RunRecord
from trading_engine.store import ModelRegistry
from trading_engine.training._lightgbm import import_lightgbm
from trading_engine.training.model import TrainedModel

lgb = import_lightgbm()


class Clock:
    """A clock that ticks one second per reading."""

    def __init__(self, start: datetime = datetime(2025, 1, 19, 2, 5, 34, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


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


def deploy(registry: ModelRegistry, seed: int = 0, f1: float = 0.7, *, model=None) -> str:
    """Deploy a tiny model the way a retrain does: one session, bytes, a run record."""
    with registry.writing() as session:
        version = registry.new_version_id()
        now = registry.clock().isoformat()
        data = (model or tiny_model(seed, f1)).to_bytes({"version": version, "created_at": now})
        run = RunRecord(
            run_id=f"run_{version}",
            started_at=now,
            finished_at=now,
            outcome="deployed",
            version=version,
            reason="test",
        )
        registry.deploy(session, version, data, run=run, reason="test")
    return version
