"""A trained direction model: the LightGBM booster plus what it needs to be used honestly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np


@dataclass
class TrainedModel:
    """The booster and its provenance: features, horizon, and the dates it learned from.

    ``label_end`` is the last date any training label looked at; rows after it (plus the
    embargo) are the only rows this model may be scored on.
    """

    booster: lgb.Booster
    feature_names: tuple[str, ...]
    horizon: int
    train_start: str
    train_end: str
    label_end: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability that the close rises over the next ``horizon`` trading days."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected a (rows, {len(self.feature_names)}) matrix of features "
                f"{', '.join(self.feature_names)}; got shape {X.shape}"
            )
        # A few rows are faster on one thread than on a pool that has to wake up.
        return self.booster.predict(X, num_threads=1 if len(X) < 10_000 else 0)
