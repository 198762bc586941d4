"""A trained direction model: the LightGBM booster plus what it needs to be used honestly.

The model serialises itself into the store's container (LightGBM's own text format plus JSON
metadata: never pickle); the store only keeps and verifies the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version as installed_version
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CorruptModel
from ..store.container import Container, pack, unpack
from ._lightgbm import import_lightgbm

if TYPE_CHECKING:
    import lightgbm as lgb
else:  # through the helper: no scikit-learn, a passive OpenMP wait policy
    lgb = import_lightgbm()


@cache
def package_version(name: str) -> str:
    """An installed library's version, looked up once per process (each lookup scans the
    environment's package metadata: 9 ms, at every deploy of a replay)."""
    return installed_version(name)


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
        probability = self.booster.predict(X, num_threads=1 if len(X) < 10_000 else 0)
        assert isinstance(probability, np.ndarray)  # dense input: never a list or sparse matrix
        return probability

    def to_bytes(self, metadata: dict[str, Any]) -> bytes:
        """The ``.bin`` file of this model, with ``metadata`` (version, gates...) in its header."""
        header = {
            **metadata,
            "feature_names": list(self.feature_names),
            "horizon": self.horizon,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "label_end": self.label_end,
            "params": self.params,
            "metrics": self.metrics,
            "libraries": {name: package_version(name) for name in ("lightgbm", "numpy", "TA-Lib")},
        }
        return pack(header, self.booster.model_to_string().encode())

    @classmethod
    def from_container(cls, container: Container, source: str) -> TrainedModel:
        metadata = container.metadata
        try:
            booster = lgb.Booster(model_str=container.payload.decode())
            return cls(
                booster=booster,
                feature_names=tuple(metadata["feature_names"]),
                horizon=int(metadata["horizon"]),
                train_start=metadata["train_start"],
                train_end=metadata["train_end"],
                label_end=metadata["label_end"],
                params=metadata.get("params", {}),
                metrics=metadata.get("metrics", {}),
            )
        except (lgb.basic.LightGBMError, UnicodeDecodeError, KeyError, TypeError) as error:
            raise CorruptModel(f"{source}: cannot be read as a model ({error})") from None


@dataclass(frozen=True)
class StoredModel:
    """A model loaded from the store with its metadata."""

    model: TrainedModel
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def decode_model(data: bytes, source: str) -> StoredModel:
    """Parse, verify and load a ``.bin`` file; ``CorruptModel`` says what is wrong with it."""
    container = unpack(data, source)
    return StoredModel(TrainedModel.from_container(container, source), container.metadata)
