"""Direction labels: did the close rise over the next ``horizon`` bars?"""

from __future__ import annotations

import numpy as np


def direction_labels(close: np.ndarray, horizon: int) -> np.ndarray:
    """1.0 where ``close[t + horizon] > close[t]``, 0.0 where not, NaN where t + horizon is unknown.

    The last ``horizon`` rows have no future close; they stay NaN and are never filled.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 trading day, got {horizon}")
    labels = np.full(len(close), np.nan, dtype=np.float32)
    if len(close) > horizon:
        labels[:-horizon] = (close[horizon:] > close[:-horizon]).astype(np.float32)
    return labels


def label_end_dates(dates: np.ndarray, horizon: int) -> np.ndarray:
    """The date each label is known on (the bar ``horizon`` rows later); NaT where unknown."""
    ends = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[D]")
    if len(dates) > horizon:
        ends[:-horizon] = dates[horizon:]
    return ends
