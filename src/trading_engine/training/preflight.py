"""Pre-flight: can the labelled trading dates hold the holdout, the purges, the folds and early
stopping? Arithmetic on a count of dates, done before any feature is computed.

The numbers are ``splits.PurgedWalkForward``'s own (``tests/training/test_preflight.py`` checks
them against it, date count by date count):

* the holdout is the newest ``holdout_days`` dates, after a purge of ``horizon + embargo``;
* the ``D`` development dates before that purge are cut into ``n_splits + 1`` blocks of
  ``D // (n_splits + 1)`` dates, each longer than the purge; fold k tests on block k + 1 and
  trains on the dates before its own purge (a sliding window: at most ``max_train_days``);
* early stopping holds out the newest ``min(early_stopping_days, train // 5)`` (at least 1) of
  a fold's training dates after another purge, and at least 2 dates must remain to fit on.

The first fold trains on the fewest dates, so it decides. Because the blocks are whole dates,
one more date can shrink the first fold by ``n_splits - 1``: ``needed`` is the count from which
every larger count fits, not merely the smallest count that happens to fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..features.catalogue import CATALOGUE, feature_window

if TYPE_CHECKING:
    from ..config import RetrainingSettings
    from ..data.market import MarketData

MIN_FIT_DATES = 2  # inner_validation refuses a fold with fewer dates left to fit on


@dataclass(frozen=True)
class PreflightReport:
    """Whether ``labelled_dates`` hold the validation the settings ask for, with the numbers."""

    labelled_dates: int  # trading dates with features and a known label
    needed: int | None  # from this many on, every count fits; None: no history is enough
    fits: bool
    problem: str | None  # one line with the numbers and settings that would fit; None if fits
    summary: str  # one line for people, whether it fits or not
    holdout_days: int
    purge_days: int  # horizon + embargo, before the holdout and before every evaluation block
    n_splits: int
    fold_days: int  # each walk-forward test block (at ``needed`` when it does not fit)
    first_train_days: int  # the first fold's training dates, early stopping included
    feature: str  # the slowest feature
    feature_window: int  # bars it needs for its first value
    horizon: int
    bars: int | None = None  # trading dates loaded, when known
    first_date: str | None = None  # first and last labelled date, when known
    last_date: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def _purge(settings: RetrainingSettings) -> int:
    return settings.horizon + settings.embargo


def _fold_trains(train_days: int, settings: RetrainingSettings) -> bool:
    """``inner_validation`` accepts a fold training on ``train_days`` dates."""
    stopping = max(1, min(settings.early_stopping_days, train_days // 5))
    return train_days >= stopping + _purge(settings) + MIN_FIT_DATES


def _blocks(n_dates: int, settings: RetrainingSettings) -> tuple[int, int]:
    """(test block of each fold, dates before the first fold's purge) for ``n_dates``."""
    develop = n_dates - settings.holdout_days - _purge(settings)
    block = max(0, develop) // (settings.n_splits + 1)
    return block, develop - settings.n_splits * block - _purge(settings)


def fits(n_dates: int, settings: RetrainingSettings) -> bool:
    """Exactly whether ``PurgedWalkForward`` and early stopping accept ``n_dates`` dates."""
    if n_dates <= settings.holdout_days + _purge(settings):
        return False  # holdout_split
    block, first = _blocks(n_dates, settings)
    if block < 1 or block <= _purge(settings):
        return False  # split
    if settings.window == "sliding" and settings.max_train_days is not None:
        first = min(first, settings.max_train_days)
    return _fold_trains(first, settings)  # later folds train on more dates


def _first_train_minimum(settings: RetrainingSettings) -> int:
    days = 1
    while not _fold_trains(days, settings):
        days += 1
    return days


def needed_dates(settings: RetrainingSettings) -> int | None:
    """The count of labelled dates from which every larger count fits; None when none does."""
    first = _first_train_minimum(settings)
    if settings.window == "sliding" and (settings.max_train_days or 0) < first:
        return None
    purge = _purge(settings)
    # With blocks of first + purge dates the first fold always trains on enough: fits from here.
    count = settings.holdout_days + purge + (settings.n_splits + 1) * (first + purge)
    while count > 0 and fits(count - 1, settings):
        count -= 1
    return count


def _minimum(settings: RetrainingSettings, name: str) -> int:
    """The smallest value settings accept for ``name`` (its ``ge`` bound)."""
    for rule in type(settings).model_fields[name].metadata:
        if getattr(rule, "ge", None) is not None:
            return int(rule.ge)
    return 1


def _largest_fitting(n_dates: int, settings: RetrainingSettings, name: str) -> int | None:
    for value in range(getattr(settings, name) - 1, _minimum(settings, name) - 1, -1):
        if fits(n_dates, settings.model_copy(update={name: value})):
            return value
    return None


def _remedies(n_dates: int, needed: int | None, settings: RetrainingSettings) -> list[str]:
    remedies = []
    holdout = _largest_fitting(n_dates, settings, "holdout_days")
    splits = _largest_fitting(n_dates, settings, "n_splits")
    if holdout is not None and splits is not None:
        remedies.append(
            f"lower retraining.holdout_days (to {holdout}) or retraining.n_splits (to {splits})"
        )
    elif holdout is not None or splits is not None:
        name, value = ("holdout_days", holdout) if holdout is not None else ("n_splits", splits)
        remedies.append(f"lower retraining.{name} (to {value})")
    else:
        fewest = settings.model_copy(update={"n_splits": _minimum(settings, "n_splits")})
        both = _largest_fitting(n_dates, fewest, "holdout_days")
        if both is not None:
            remedies.append(
                f"lower retraining.holdout_days to {both} and retraining.n_splits to "
                f"{fewest.n_splits}"
            )
    window = feature_window(settings.features)
    slowest = [name for name in settings.features if CATALOGUE[name].window == window]
    rest = [name for name in settings.features if CATALOGUE[name].window < window]
    if rest:
        gained = window - feature_window(rest)
        if fits(n_dates + gained, settings):
            remedies.append(
                f"drop {' and '.join(slowest)} from retraining.features (+{gained} dates)"
            )
    if needed is None:
        remedies.append(
            f"raise retraining.max_train_days to at least {_first_train_minimum(settings)}"
        )
    else:
        more = needed - n_dates
        remedies.append(f"load {more} more trading date{'s' if more != 1 else ''} of history")
    return remedies


def preflight(
    n_dates: int,
    settings: RetrainingSettings,
    *,
    bars: int | None = None,
    first_date: str | None = None,
    last_date: str | None = None,
) -> PreflightReport:
    """Whether ``n_dates`` labelled trading dates hold the holdout, purges, folds and early
    stopping of ``settings``; when not, a one-line problem naming the settings that would."""
    window = feature_window(settings.features)
    feature = next(name for name in settings.features if CATALOGUE[name].window == window)
    horizon, purge, holdout = settings.horizon, _purge(settings), settings.holdout_days
    needed = needed_dates(settings)
    ok = fits(n_dates, settings)
    if bars == 0:
        span = " (no usable ticker)"
    elif bars is not None:
        dates = f"{first_date}..{last_date}: " if first_date else ""
        span = (
            f" ({dates}of {bars} bars, {window - 1} are {feature}'s warm-up and {horizon} wait "
            f"for the {horizon}-day horizon)"
        )
    else:
        span = f" (after {feature}'s {window - 1}-bar warm-up and the {horizon}-day horizon)"
    block, first = _blocks(n_dates if ok or needed is None else needed, settings)
    if ok:
        problem = None
        summary = (
            f"{n_dates} labelled trading dates{span} hold a {holdout}-day holdout + {purge}-day "
            f"purge + {settings.n_splits} walk-forward folds of {block} days ({needed} needed)"
        )
    else:
        if needed is None:
            need = (
                f"the first fold's {_first_train_minimum(settings)} training dates (early "
                f"stopping included) in a sliding window of {settings.max_train_days} days"
            )
        else:
            need = (
                f"a {holdout}-day holdout + {purge}-day purge + {settings.n_splits} walk-forward "
                f"folds of {block} days + {purge}-day purge + {first} days of first training "
                f"(early stopping included) = {needed}"
            )
        remedies = ", or ".join(_remedies(n_dates, needed, settings))
        problem = f"{n_dates} labelled trading dates{span} cannot hold {need}: {remedies}"
        summary = problem
    return PreflightReport(
        labelled_dates=n_dates,
        needed=needed,
        fits=ok,
        problem=problem,
        summary=summary,
        holdout_days=holdout,
        purge_days=purge,
        n_splits=settings.n_splits,
        fold_days=block,
        first_train_days=first,
        feature=feature,
        feature_window=window,
        horizon=horizon,
        bars=bars,
        first_date=first_date,
        last_date=last_date,
    )


def labelled_calendar(market: MarketData, settings: RetrainingSettings) -> tuple[np.ndarray, int]:
    """(the trading dates that will have features and a label, the trading dates loaded).

    The same dates ``dataset_from_market(...).labeled()`` holds, without computing features:
    each ticker loses its first ``feature_window - 1`` bars (warm-up) and last ``horizon``.
    """
    warm_up = feature_window(settings.features) - 1
    calendars = [history.dates for history in market.histories.values()]
    if not calendars:
        return np.empty(0, dtype="datetime64[D]"), 0
    labelled = [dates[warm_up : max(0, len(dates) - settings.horizon)] for dates in calendars]
    return np.unique(np.concatenate(labelled)), len(np.unique(np.concatenate(calendars)))


def preflight_market(market: MarketData, settings: RetrainingSettings) -> PreflightReport:
    """``preflight`` on the labelled dates of ``market``, with its bars and date range."""
    dates, bars = labelled_calendar(market, settings)
    return preflight(
        len(dates),
        settings,
        bars=bars,
        first_date=str(dates[0]) if len(dates) else None,
        last_date=str(dates[-1]) if len(dates) else None,
    )
