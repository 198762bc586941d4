"""Features, labels and the model's dataset."""

from .dataset import Dataset, build_dataset, dataset_from_market
from .indicators import BASE_FEATURES, FEATURES, compute_features, feature_window
from .labels import direction_labels

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
