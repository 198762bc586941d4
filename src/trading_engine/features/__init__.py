"""Features, labels and the model's dataset.

The names below load on first use: importing ``trading_engine.features.catalogue`` (names and
windows, what settings need) must not pull in numpy and TA-Lib through this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalogue import BASE_FEATURES, feature_window
    from .dataset import Dataset, build_dataset, dataset_from_market
    from .indicators import FEATURES, compute_features
    from .labels import direction_labels

_HOMES = {
    "BASE_FEATURES": "catalogue",
    "feature_window": "catalogue",
    "FEATURES": "indicators",
    "compute_features": "indicators",
    "Dataset": "dataset",
    "build_dataset": "dataset",
    "dataset_from_market": "dataset",
    "direction_labels": "labels",
}

__all__ = [
    "BASE_FEATURES",
    "FEATURES",
    "Dataset",
    "build_dataset",
    "compute_features",
    "dataset_from_market",
    "direction_labels",
    "feature_window",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
