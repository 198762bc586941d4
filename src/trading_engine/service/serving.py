"""Serving: the production model (cached, verified, with fallbacks) and predictions from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..config import Settings
from ..data import MarketData
from ..errors import CorruptModel, NoProductionModel, UnknownTickers
from ..features.indicators import compute_features, feature_window
from ..records import Prediction
from ..store import ModelRegistry
from ..training.model import StoredModel, decode_model

logger = logging.getLogger(__name__)


class ProductionModels:
    """The production model, decoded once per change of ``prod_model.bin``.

    Serves production's verified bytes; else the backup's; else the newest intact version,
    reporting each problem once to ``on_problem`` (an alert).
    """

    def __init__(self, registry: ModelRegistry, on_problem: Callable[[str], None]) -> None:
        self.registry = registry
        self.on_problem = on_problem
        self._cached: StoredModel | None = None
        self._stamp: tuple | None = None
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple:
        stamps: list[tuple[int, int, int] | None] = []
        for path in (self.registry.prod_path, self.registry.db.path):
            try:
                status = path.stat()
                # Every deploy renames a new file into place: a new inode, whatever the clock.
                stamps.append((status.st_ino, status.st_mtime_ns, status.st_size))
            except FileNotFoundError:
                stamps.append(None)
        return tuple(stamps)

    def current(self) -> StoredModel | None:
        with self._lock:
            stamp = self._file_stamp()
            if self._stamp == stamp and self._cached is not None:
                return self._cached
            self._cached, self._stamp = self._load(), stamp
            return self._cached

    def _load(self) -> StoredModel | None:
        found, problems = self.registry.production_bytes()
        stored = None
        if found is not None:
            try:
                stored = decode_model(found.data, str(found.source))
            except CorruptModel as error:
                problems.append(str(error))
        for problem in problems:
            if problem not in self._reported:
                self._reported.add(problem)
                self.on_problem(problem)
        if not problems:
            self._reported.clear()
        return stored

    def require(self) -> StoredModel:
        stored = self.current()
        if stored is None:
            raise NoProductionModel("no production model yet; run a retrain first")
        return stored

    def for_training(self) -> StoredModel | None:
        """The champion a candidate must beat: production, or the backup serving for it.

        When neither loads (only an older version does), training treats production as
        absent: comparing with a model nobody chose would be meaningless.
        """
        stored = self.current()
        if stored is None:
            return None
        pointers = self.registry.pointers()
        if stored.version in (pointers.get("production"), pointers.get("backup")):
            return stored
        self.on_problem(
            "production and backup are both unreadable: the candidate is judged without a "
            f"champion (version {stored.version} is served meanwhile)"
        )
        return None


def latest_features(
    market: MarketData, feature_names: Sequence[str]
) -> dict[str, tuple[np.datetime64, np.ndarray]]:
    """Features of each ticker's last bar only (the tail window is all a feature needs)."""
    tail = feature_window(feature_names) * 3  # EMAs settle well within three windows
    rows = {}
    for ticker, history in market.histories.items():
        recent = history.rows(slice(max(0, len(history) - tail), None))
        rows[ticker] = (history.dates[-1], compute_features(recent, feature_names)[-1])
    return rows


def data_source_key(stored: StoredModel) -> tuple:
    source = stored.metadata.get("data_source") or {}
    return (source.get("provider"), source.get("folder"))


class Predictor:
    """Serves probabilities of an up-move from each ticker's newest bar.

    ``load(model, tickers)`` returns those tickers' market, the one the model should predict
    from (by default the data it was trained on): a Yahoo download of one ticker, not the
    universe. Each ticker's latest features are kept for ``ttl_seconds``.
    """

    def __init__(
        self,
        settings: Settings,
        model: Callable[[], StoredModel | None],
        load: Callable[[StoredModel, Sequence[str]], MarketData],
        *,
        today: Callable[[], np.datetime64],
        ttl_seconds: float = 300.0,
    ) -> None:
        self.settings = settings
        self.model = model
        self.ttl_seconds = ttl_seconds
        self.today = today
        self._load = load
        self._key: tuple = ()  # (feature names, data source) the rows below belong to
        self._rows: dict[str, tuple[float, np.datetime64, np.ndarray]] = {}  # loaded at, ...
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._rows = {}

    def _fresh(
        self, key: tuple, wanted: Sequence[str]
    ) -> dict[str, tuple[np.datetime64, np.ndarray]] | None:
        rows, now = self._rows, time.monotonic()
        if self._key != key:
            return None
        found = {}
        for ticker in wanted:
            row = rows.get(ticker)
            if row is None or now - row[0] >= self.ttl_seconds:
                return None
            found[ticker] = (row[1], row[2])
        return found

    def _features(
        self, stored: StoredModel, wanted: Sequence[str]
    ) -> dict[str, tuple[np.datetime64, np.ndarray]]:
        names = tuple(stored.model.feature_names)
        key = (names, data_source_key(stored))
        if (cached := self._fresh(key, wanted)) is not None:
            return cached
        with self._lock:  # one load at a time; the others wait, then reuse it
            if self._key != key:
                self._key, self._rows = key, {}
            now = time.monotonic()
            rows = dict(self._rows)
            missing = [t for t in wanted if t not in rows or now - rows[t][0] >= self.ttl_seconds]
            if missing:
                market = self._load(stored, missing)
                for ticker, (as_of, features) in latest_features(market, names).items():
                    rows[ticker] = (now, as_of, features)
                self._rows = rows
            return {t: (rows[t][1], rows[t][2]) for t in wanted if t in rows}

    def predict(self, tickers: Sequence[str]) -> list[Prediction]:
        stored = self.model()
        if stored is None:
            raise NoProductionModel("no production model yet; run a retrain first")
        wanted = [t.strip().upper() for t in tickers]
        latest = self._features(stored, list(dict.fromkeys(wanted)))
        unknown = [t for t in wanted if t not in latest]
        if unknown:
            trained_on = (stored.metadata.get("data_source") or {}).get("tickers") or []
            known = (
                f"knows {len(trained_on)} ticker(s), e.g. {', '.join(sorted(trained_on)[:10])}"
                if trained_on
                else "records no list of tickers"
            )
            raise UnknownTickers(
                f"unknown ticker(s): {', '.join(unknown)}; model {stored.version} {known}"
            )
        X = np.vstack([latest[t][1] for t in wanted]).astype(np.float32)
        probability = stored.model.predict_proba(X)
        today = self.today()
        predictions = []
        for ticker, p in zip(wanted, probability, strict=True):
            as_of = latest[ticker][0]
            behind = int(np.busday_count(as_of.astype("datetime64[D]"), today))
            stale = behind > self.settings.data.stale_days
            predictions.append(
                Prediction(
                    ticker=ticker,
                    probability_up=float(p),
                    direction="up" if p > 0.5 else "down",
                    as_of=str(as_of),
                    horizon_days=stored.model.horizon,
                    model_version=stored.version,
                    stale=stale,
                    warning=(
                        f"stale: the newest bar ({as_of}) is {behind} business days before "
                        f"{today} (data.stale_days = {self.settings.data.stale_days})"
                        if stale
                        else None
                    ),
                )
            )
        return predictions
