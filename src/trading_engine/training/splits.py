"""Date-based splits with a purge and an embargo. Nothing here ever splits by row.

Rows are identified by their date and their ``label_end`` (the date their label becomes known).
For an evaluation block starting on trading date ``E``, a training row must

* lie at least ``horizon + embargo`` trading dates before ``E``: between the last training
  date and ``E`` there are exactly ``horizon + embargo`` unused trading dates; and
* have a label known before ``E`` (``label_end < E``), which also catches tickers with gaps,
  whose "5 bars later" may be many calendar days later.

So no training label looks into an evaluation date, and the embargo leaves room for the slow
decay of serial correlation. ``holdout_split`` keeps the most recent ``holdout_days`` trading
dates for the final verdict; ``split`` yields walk-forward folds over what comes before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of PurgedWalkForward must be an int >= {minimum}. "
            f"Got {value!r} instead."
        )


@dataclass(frozen=True)
class PurgedWalkForward:
    """Walk-forward folds by date with a purged, embargoed gap before every evaluation block.

    ``window="expanding"`` trains each fold on everything before its gap; ``"sliding"`` on
    at most ``max_train_days`` trading dates before it. The holdout's development period and
    the early-stopping split always use everything before their gap.
    """

    n_splits: int = 5
    horizon: int = 5
    embargo: int | None = None  # None: the same as the horizon
    holdout_days: int = 63
    window: Literal["expanding", "sliding"] = "expanding"
    max_train_days: int | None = None

    def __post_init__(self) -> None:
        _check_positive("n_splits", self.n_splits)
        _check_positive("horizon", self.horizon)
        _check_positive("embargo", self.gap - self.horizon, 0)
        _check_positive("holdout_days", self.holdout_days)
        if self.window not in ("expanding", "sliding"):
            raise ValueError(
                "The 'window' parameter of PurgedWalkForward must be 'expanding' or 'sliding'. "
                f"Got {self.window!r} instead."
            )
        if self.window == "sliding":
            _check_positive("max_train_days", self.max_train_days or 0)

    @property
    def gap(self) -> int:
        """Trading dates left unused between training and evaluation."""
        return self.horizon + (self.horizon if self.embargo is None else self.embargo)

    def _train_mask(
        self,
        dates: np.ndarray,
        label_end: np.ndarray,
        calendar: np.ndarray,
        eval_start: int,
        *,
        sliding: bool = False,
    ) -> np.ndarray:
        last_train = eval_start - 1 - self.gap
        if last_train < 0:
            return np.zeros(len(dates), dtype=bool)
        first_train = 0
        if sliding:
            assert self.max_train_days is not None  # __post_init__ requires it for "sliding"
            first_train = max(0, last_train + 1 - int(self.max_train_days))
        return (
            (dates >= calendar[first_train])
            & (dates <= calendar[last_train])
            & (label_end < calendar[eval_start])
        )

    def holdout_split(
        self, dates: np.ndarray, label_end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(development rows, holdout rows) as index arrays; the holdout is the newest dates."""
        calendar = np.unique(dates)
        if len(calendar) <= self.holdout_days + self.gap:
            raise ValueError(
                f"{len(calendar)} trading dates cannot hold a {self.holdout_days}-day holdout "
                f"after a {self.gap}-day purge gap"
            )
        start = len(calendar) - self.holdout_days
        holdout = dates >= calendar[start]
        develop = self._train_mask(dates, label_end, calendar, start)
        return np.flatnonzero(develop), np.flatnonzero(holdout)

    def split(
        self, dates: np.ndarray, label_end: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Walk-forward (train, test) index arrays over the rows given (the development period).

        The dates are cut into ``n_splits + 1`` equal blocks; fold k tests on block k + 1 and
        trains on what lies before it, less the purge gap.
        """
        calendar = np.unique(dates)
        block = len(calendar) // (self.n_splits + 1)
        if block < 1 or block <= self.gap:
            raise ValueError(
                f"{len(calendar)} trading dates are too few for {self.n_splits} walk-forward "
                f"folds with a {self.gap}-day purge gap"
            )
        for fold in range(self.n_splits):
            test_start = len(calendar) - (self.n_splits - fold) * block
            test_end = test_start + block  # exclusive
            test = (dates >= calendar[test_start]) & (
                dates < calendar[test_end] if test_end < len(calendar) else True
            )
            train = self._train_mask(
                dates, label_end, calendar, test_start, sliding=self.window == "sliding"
            )
            yield np.flatnonzero(train), np.flatnonzero(test)

    def inner_validation(
        self, dates: np.ndarray, label_end: np.ndarray, days: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(fit rows, early-stopping rows): the newest dates, purged like any block.

        The block is ``days`` long, or a fifth of the dates when that is shorter, so the early
        folds of a short history still train on most of their rows.
        """
        calendar = np.unique(dates)
        days = max(1, min(days, len(calendar) // 5))
        if len(calendar) <= days + self.gap + 1:
            raise ValueError(
                f"{len(calendar)} trading dates cannot hold a {days}-day early-stopping "
                f"block after a {self.gap}-day purge gap"
            )
        start = len(calendar) - days
        fit = self._train_mask(dates, label_end, calendar, start)
        return np.flatnonzero(fit), np.flatnonzero(dates >= calendar[start])
