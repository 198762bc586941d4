"""Drift of each feature: the recent window against the model's training window.

PSI on the training window's quantile bins, and a two-sample test chosen as Evidently does for
numerical columns: Kolmogorov-Smirnov while the recent sample is small (its p-value), the
Wasserstein distance in training standard deviations once it is large (where KS rejects
differences too small to matter). A feature drifts when both its PSI and its test say so: rows
of one ticker on nearby dates are far from independent, so either alone flags slow features
(SMA200 barely moves in a month) on a market that did not change. Pure numpy, no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PSI_FLOOR = 1e-4  # an empty bin counts as this share, so PSI stays finite


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference`` (NaN dropped).

    Bins are the reference's quantiles, open at both ends: sum((q - p) * ln(q / p)).
    """
    reference = reference[~np.isnan(reference)]
    recent = recent[~np.isnan(recent)]
    if len(reference) == 0 or len(recent) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1
    )
    actual = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=len(edges) + 1)
    p = np.maximum(expected / len(reference), PSI_FLOOR)
    q = np.maximum(actual / len(recent), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_2samp(
    reference: np.ndarray,
    recent: np.ndarray,
    *,
    sizes: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (D, asymptotic two-sided p-value), as Numerical Recipes.

    ``sizes`` are the samples' effective sizes when rows are not independent (else their
    lengths).
    """
    a, b = np.sort(reference), np.sort(recent)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, side="right") / len(a)
    cdf_b = np.searchsorted(b, values, side="right") / len(b)
    statistic = float(np.max(np.abs(cdf_a - cdf_b)))
    n_a, n_b = sizes or (len(a), len(b))
    effective = math.sqrt(n_a * n_b / (n_a + n_b))
    lam = (effective + 0.12 + 0.11 / effective) * statistic
    if lam < 1e-3:
        return statistic, 1.0
    terms = [2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101)]
    return statistic, float(min(1.0, max(0.0, sum(terms))))


def wasserstein(reference: np.ndarray, recent: np.ndarray) -> float:
    """Earth mover's distance between the two empirical distributions (same units)."""
    a, b = np.sort(reference), np.sort(recent)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    values = np.sort(np.concatenate([a, b]))
    widths = np.diff(values)
    cdf_a = np.searchsorted(a, values[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, values[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


@dataclass(frozen=True)
class DriftThresholds:
    psi_bins: int = 10
    psi_threshold: float = 0.2
    small_sample: int = 1000
    ks_p_value: float = 0.05
    wasserstein_threshold: float = 0.1


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float | None
    test: str  # "ks" or "wasserstein"
    statistic: float | None  # D for KS; distance in training standard deviations otherwise
    p_value: float | None  # KS only
    drifted: bool
    reference_mean: float | None
    recent_mean: float | None


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def feature_drift(
    reference: np.ndarray,
    recent: np.ndarray,
    names: Sequence[str],
    thresholds: DriftThresholds,
    *,
    windows: Sequence[int] | None = None,
    dates: tuple[int, int] = (1, 1),
) -> list[FeatureDrift]:
    """One verdict per feature (columns of ``reference`` and ``recent``).

    A feature computed over ``window`` bars changes little from one day to the next: a
    ticker's rows within one window count as one observation in the KS p-value (effective
    size = rows / min(window, dates in the sample)), else SMA200 "drifts" every month.
    ``dates`` are the numbers of distinct dates in the reference and recent samples.
    """
    found = []
    for column, name in enumerate(names):
        window = windows[column] if windows is not None else 1
        ref = reference[:, column].astype(np.float64)
        new = recent[:, column].astype(np.float64)
        ref, new = ref[~np.isnan(ref)], new[~np.isnan(new)]
        index = psi(ref, new, thresholds.psi_bins)
        if len(new) <= thresholds.small_sample:
            sizes = (
                max(1.0, len(ref) / min(window, max(1, dates[0]))),
                max(1.0, len(new) / min(window, max(1, dates[1]))),
            )
            statistic, p_value = ks_2samp(ref, new, sizes=sizes)
            test_drifted = not math.isnan(p_value) and p_value < thresholds.ks_p_value
            test = "ks"
        else:
            scale = float(np.std(ref)) if len(ref) else float("nan")
            distance = wasserstein(ref, new)
            statistic = distance / scale if scale > 0 else float("nan")
            p_value = float("nan")
            test_drifted = (
                not math.isnan(statistic) and statistic > thresholds.wasserstein_threshold
            )
            test = "wasserstein"
        psi_drifted = not math.isnan(index) and index > thresholds.psi_threshold
        found.append(
            FeatureDrift(
                feature=name,
                psi=_finite(index),
                test=test,
                statistic=_finite(statistic),
                p_value=_finite(p_value),
                drifted=psi_drifted and test_drifted,
                reference_mean=_finite(float(ref.mean())) if len(ref) else None,
                recent_mean=_finite(float(new.mean())) if len(new) else None,
            )
        )
    return found
