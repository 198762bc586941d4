"""Realised metrics of logged predictions whose outcome is known, and the tests the policies use.

Rows of one as-of date share the market's move, and a 5-day label overlaps the next four
dates'; so the tests never treat rows as independent. They work on per-date figures grouped
into blocks of ``horizon`` consecutive dates (labels of different blocks barely overlap) and
take a one-sided p-value from the sign-flip (permutation) distribution of the block means:
exact up to 16 blocks, 20,000 seeded flips beyond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..training.metrics import pesaran_timmermann, roc_auc


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


@dataclass(frozen=True)
class Realised:
    """What a set of predictions achieved once their outcomes were known."""

    rows: int
    dates: int
    first_as_of: str | None
    last_as_of: str | None
    accuracy: float | None
    roc_auc: float | None
    brier: float | None
    predicted_up: float | None  # share predicted up
    up_rate: float | None  # share that went up: the accuracy of always-up
    edge_vs_always_up: float | None  # accuracy - always-up's
    training_base_rate: float | None
    edge_vs_training_majority: float | None  # accuracy - always the training majority's
    pt_p_value: float | None  # Pesaran-Timmermann, one-sided (asymptotic)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def realised(
    probability: np.ndarray,
    up: np.ndarray,
    dates: np.ndarray,
    training_base_rate: float | None = None,
) -> Realised:
    probability = np.asarray(probability, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    n = len(up)
    if n == 0:
        return Realised(
            rows=0,
            dates=0,
            first_as_of=None,
            last_as_of=None,
            accuracy=None,
            roc_auc=None,
            brier=None,
            predicted_up=None,
            up_rate=None,
            edge_vs_always_up=None,
            training_base_rate=_round(training_base_rate),
            edge_vs_training_majority=None,
            pt_p_value=None,
        )
    predicted = probability > 0.5
    correct = predicted == (up == 1)
    accuracy = float(correct.mean())
    up_rate = float(up.mean())
    majority = None
    if training_base_rate is not None:
        majority = float(np.mean((up == 1) == (training_base_rate >= 0.5)))
    _, pt_p = pesaran_timmermann(up, predicted)
    unique = np.unique(dates)
    return Realised(
        rows=n,
        dates=len(unique),
        first_as_of=str(unique[0]),
        last_as_of=str(unique[-1]),
        accuracy=_round(accuracy),
        roc_auc=_round(roc_auc(up, probability)),
        brier=_round(float(np.mean((probability - up) ** 2))),
        predicted_up=_round(float(predicted.mean())),
        up_rate=_round(up_rate),
        edge_vs_always_up=_round(accuracy - up_rate),
        training_base_rate=_round(training_base_rate),
        edge_vs_training_majority=_round(accuracy - majority) if majority is not None else None,
        pt_p_value=_round(pt_p),
    )


def daily_means(values: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique dates, mean of ``values`` on each)."""
    unique, index = np.unique(dates, return_inverse=True)
    sums = np.bincount(index, weights=np.asarray(values, dtype=np.float64))
    return unique, sums / np.bincount(index)


def block_means(daily: np.ndarray, block: int) -> np.ndarray:
    """Means of consecutive blocks of ``block`` dates (a last partial block is dropped)."""
    whole = len(daily) // block
    return daily[: whole * block].reshape(whole, block).mean(axis=1) if whole else daily[:0]


def sign_flip_p_value(blocks: np.ndarray, *, seed: int = 0, flips: int = 20_000) -> float:
    """One-sided p-value of "mean(blocks) < 0 by chance": P(flipped mean <= observed mean)."""
    k = len(blocks)
    if k == 0:
        return 1.0
    observed = float(blocks.mean())
    if k <= 16:
        signs = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1) * 2 - 1
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], size=(flips, k))
    flipped = (signs * blocks).mean(axis=1)
    return float(np.mean(flipped <= observed + 1e-12))


@dataclass(frozen=True)
class WorseTest:
    """Is production worse than a reference (its shadow on the same rows, or its claim)?"""

    dates: int
    blocks: int
    difference: float | None  # production minus reference, accuracy
    p_value: float | None  # one-sided: small when production is worse
    significant: bool

    def to_json(self) -> dict:
        return dict(self.__dict__)


def worse_test(
    daily_difference: np.ndarray, *, block: int, min_dates: int, significance: float
) -> WorseTest:
    """Test that the mean of ``daily_difference`` (production - reference) is below zero."""
    blocks = block_means(daily_difference, max(1, block))
    if len(daily_difference) < min_dates or len(blocks) == 0:
        mean = float(daily_difference.mean()) if len(daily_difference) else None
        return WorseTest(len(daily_difference), len(blocks), _round(mean), None, False)
    p_value = sign_flip_p_value(blocks)
    return WorseTest(
        dates=len(daily_difference),
        blocks=len(blocks),
        difference=_round(float(daily_difference.mean())),
        p_value=_round(p_value),
        significant=bool(float(blocks.mean()) < 0 and p_value < significance),
    )
