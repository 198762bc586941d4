"""Check that features at date t depend on bars up to t only.

For each cut date t, features are recomputed on the history as known at t's close and compared
with the full-history features for every row up to t. Any difference means a feature looked
ahead (or depends on where the history ends), and the model's numbers cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.market import PriceHistory, as_day
from .catalogue import BASE_FEATURES
from .indicators import compute_features


@dataclass(frozen=True)
class Lookahead:
    """A feature whose value at ``date`` changed when later bars were removed."""

    ticker: str
    feature: str
    date: np.datetime64
    cut: np.datetime64
    full_value: float
    cut_value: float


def find_lookahead(
    history: PriceHistory,
    cut_dates: Iterable[np.datetime64],
    names: Sequence[str] = BASE_FEATURES,
    *,
    tolerance: float = 1e-9,
) -> list[Lookahead]:
    """Every (feature, date) whose value differs between the full history and a history cut at t."""
    full = compute_features(history, names)
    problems: list[Lookahead] = []
    for cut in cut_dates:
        known = history.until(cut)
        if len(known) == 0:
            continue
        partial = compute_features(known, names)
        reference = full[: len(known)]
        same = np.isclose(partial, reference, rtol=tolerance, atol=tolerance, equal_nan=True)
        for row, column in zip(*np.nonzero(~same), strict=True):
            problems.append(
                Lookahead(
                    history.ticker,
                    names[column],
                    known.dates[row],
                    as_day(cut),
                    float(reference[row, column]),
                    float(partial[row, column]),
                )
            )
    return problems
