"""The monitor: log what production (and its shadow) predict, score it when outcomes arrive,
measure drift and freshness, and act through the normal retrain and rollback paths.

    load the market as of today -> log production and shadow on each ticker's newest bar
    -> join outcomes (close[t + h] known) -> realised metrics, drift, freshness -> snapshot
    -> policies (retrain / alert / rollback / pause), each recorded as an event

It runs daily (``monitoring.daily_hour``), once after every deploy or rollback (logging only),
and on demand (``trading-engine monitor --run``). Nothing here trains or deploys by itself:
a retrain goes through ``Runner.retrain`` (the lock, the gates, the run record), a rollback
through ``Runner.rollback``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..alerts import DEGRADED, ROLLBACK, Alert, Alerts
from ..config import Settings
from ..data import MarketData
from ..errors import AlreadyRunning, TradingEngineError, VersionNotFound
from ..features import Dataset, dataset_from_market
from ..features.catalogue import CATALOGUE
from ..records import Prediction
from ..store import ModelRegistry
from ..store.predictions import LoggedPrediction, MonitorEvent, PredictionLog
from ..training.metrics import roc_auc
from ..training.model import StoredModel, decode_model
from . import policies
from .drift import DriftThresholds, feature_drift
from .realised import daily_means, realised, worse_test

if TYPE_CHECKING:
    from ..service.runner import Runner
    from ..service.serving import ProductionModels

logger = logging.getLogger(__name__)

ActionListener = Callable[[str], None]
ReportListener = Callable[[dict[str, Any]], None]


class Monitor:
    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        production: ProductionModels,
        runner: Runner,
        alerts: Alerts,
        *,
        clock: Callable[[], datetime],
        load: Callable[[Settings, np.datetime64], MarketData],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.production = production
        self.runner = runner
        self.alerts = alerts
        self.clock = clock
        self._load = load
        self.log = PredictionLog(registry.db)
        self.on_action: list[ActionListener] = []
        self.on_report: list[ReportListener] = []
        self._decoded: dict[str, StoredModel] = {}

    # -- models -----------------------------------------------------------------------------
    def _today(self) -> np.datetime64:
        return np.datetime64(self.clock().date(), "D")

    def _model(self, version: str | None) -> StoredModel | None:
        if version is None:
            return None
        if version not in self._decoded:
            found = self.registry.verified_bytes(version)
            if found is None:
                return None
            try:
                self._decoded[version] = decode_model(found.data, str(found.source))
            except TradingEngineError as error:
                logger.warning("monitoring: version %s unreadable: %s", version, error)
                return None
        return self._decoded[version]

    def models(self) -> tuple[StoredModel | None, StoredModel | None]:
        """(production, shadow): the shadow is the backup, scored on the same rows."""
        self.registry.ensure()
        pointers = self.registry.pointers()
        return self._model(pointers.get("production")), self._model(pointers.get("backup"))

    # -- logging ------------------------------------------------------------------------------
    def log_served(self, predictions: Sequence[Prediction], origin: str) -> int:
        """Log predictions served to a client (``/api/ml/predict``, ``predict``)."""
        if not self.settings.monitoring.enabled or not predictions:
            return 0
        rows = [
            LoggedPrediction(
                version=p.model_version,
                ticker=p.ticker,
                as_of=p.as_of,
                role="production",
                horizon=p.horizon_days,
                probability=p.probability_up,
                origin=origin,
            )
            for p in predictions
        ]
        return self.log.log(rows, at=self.clock().isoformat())

    def _datasets(self, market: MarketData, *models: StoredModel) -> dict[tuple, Dataset]:
        built: dict[tuple, Dataset] = {}
        for stored in models:
            key = (stored.model.feature_names, stored.model.horizon)
            if key not in built:
                built[key] = dataset_from_market(
                    market, horizon=stored.model.horizon, features=stored.model.feature_names
                )
        return built

    @staticmethod
    def _rows(
        stored: StoredModel, dataset: Dataset, role: str, origin: str
    ) -> list[LoggedPrediction]:
        if len(dataset) == 0:
            return []
        probability = stored.model.predict_proba(dataset.X)
        tickers = dataset.tickers
        return [
            LoggedPrediction(
                version=stored.version,
                ticker=str(ticker),
                as_of=str(day),
                role=role,
                horizon=stored.model.horizon,
                probability=float(p),
                origin=origin,
            )
            for ticker, day, p in zip(tickers, dataset.dates, probability, strict=True)
        ]

    def score_latest(self, market: MarketData, origin: str) -> int:
        """Production and its shadow on each ticker's newest bar, logged; rows new."""
        production, shadow = self.models()
        if production is None:
            return 0
        present = [m for m in (production, shadow) if m is not None]
        datasets = self._datasets(market, *present)
        rows: list[LoggedPrediction] = []
        for stored, role in ((production, "production"), (shadow, "shadow")):
            if stored is None or (stored.version == production.version and role == "shadow"):
                continue
            dataset = datasets[(stored.model.feature_names, stored.model.horizon)].latest()
            rows += self._rows(stored, dataset, role, origin)
        return self.log.log(rows, at=self.clock().isoformat())

    def after_change(self, origin: str = "deploy") -> None:
        """Once after a deploy or rollback: the new production (and shadow) on today's bars."""
        if not self.settings.monitoring.enabled:
            return
        today = self._today()
        try:
            loaded = self.runner.last_market
            market = (
                loaded[1] if loaded and loaded[0] == today else self._load(self.settings, today)
            )
            self.score_latest(market, origin)
        except TradingEngineError as error:
            logger.warning("monitoring: predictions after the %s not logged: %s", origin, error)

    def backfill(self, start: str) -> dict[str, Any]:
        """What production and its shadow would have predicted on each date since ``start``
        from the data on disk, logged as ``backfill`` rows (never mixed with live ones).

        Each model is scored only on dates after the last date its training labels saw: a
        model is never scored on rows it learned from.
        """
        begin = np.datetime64(start, "D")
        production, shadow = self.models()
        if production is None:
            raise VersionNotFound("no production model yet; nothing to backfill")
        market = self._load(self.settings, self._today())
        present = [m for m in (production, shadow) if m is not None]
        datasets = self._datasets(market, *present)
        rows: list[LoggedPrediction] = []
        scored: dict[str, str | None] = {}
        for stored, role in ((production, "production"), (shadow, "shadow")):
            if stored is None or (role == "shadow" and stored.version == production.version):
                continue
            dataset = datasets[(stored.model.feature_names, stored.model.horizon)]
            first = max(begin, np.datetime64(stored.model.label_end, "D") + 1)
            chosen = dataset.take(dataset.dates >= first)
            scored[stored.version] = str(first) if len(chosen) else None
            rows += self._rows(stored, chosen, role, "backfill")
        added = self.log.log(rows, at=self.clock().isoformat(), source="backfill")
        outcomes = self.fill_outcomes(market, source="backfill")
        return {"rows": len(rows), "new": added, "outcomes": outcomes, "from": scored}

    def fill_outcomes(self, market: MarketData, source: str = "live") -> int:
        """Join every pending prediction whose close[as_of + horizon] now exists."""
        found: list[tuple[str, str, int, int]] = []
        for ticker, as_of, horizon in self.log.pending(source):
            history = market.histories.get(ticker)
            if history is None:
                continue
            day = np.datetime64(as_of, "D")
            index = int(np.searchsorted(history.dates, day))
            if index >= len(history) or history.dates[index] != day:
                continue
            if index + horizon < len(history):
                up = int(history.close[index + horizon] > history.close[index])
                found.append((ticker, as_of, horizon, up))
        return self.log.set_outcomes(found, source)

    # -- measuring ------------------------------------------------------------------------------
    def realised_report(self, *, since: str | None = None, source: str = "live") -> dict[str, Any]:
        """Realised metrics by version, rolling windows, production vs shadow, vs the claim."""
        settings = self.settings.monitoring
        pointers = self.registry.pointers() if self.registry.ensure() else {}
        production, shadow = pointers.get("production"), pointers.get("backup")
        raw = self.log.rows(source, since=since)
        report: dict[str, Any] = {
            "source": source,
            "since": since,
            "production_version": production,
            "shadow_version": shadow,
            "counts": self.log.counts(),
            "by_version": {},
            "windows": {},
            "comparison": None,
            "claim": None,
            "series": [],
        }
        if not raw:
            return report
        columns = list(zip(*raw, strict=True))
        versions = np.array(columns[0])
        roles = np.array(columns[1])
        _, tickers = np.unique(np.array(columns[2]), return_inverse=True)  # codes
        day_text, day_code = np.unique(np.array(columns[3]), return_inverse=True)
        dates = day_text.astype("datetime64[D]")[day_code]
        probability = np.array(columns[4], dtype=np.float64)
        up = np.array(columns[5], dtype=np.float64)
        correct = (probability > 0.5) == (up == 1)
        for version in np.unique(versions):
            mask = versions == version
            report["by_version"][str(version)] = realised(
                probability[mask], up[mask], dates[mask], self._base_rate(str(version))
            ).to_json()
        role_mask = roles == "production"
        production_dates = np.unique(dates[role_mask])
        for window in settings.windows:
            recent = production_dates[-window:]
            mask = role_mask & np.isin(dates, recent)
            report["windows"][str(window)] = realised(
                probability[mask], up[mask], dates[mask], self._base_rate(production)
            ).to_json()
        report["series"] = self._series(dates, roles, probability, up, settings.series_days)
        horizon = self.settings.retraining.horizon
        if production is not None and shadow is not None:
            report["comparison"] = self._compare(
                production, shadow, versions, tickers, dates, probability, up, horizon
            )
        if production is not None:
            report["claim"] = self._claim(production, versions, dates, correct, horizon)
        return report

    def _base_rate(self, version: str | None) -> float | None:
        metadata = self.registry.version_metadata(version) if version else None
        value = ((metadata or {}).get("metrics") or {}).get("train_base_rate")
        return float(value) if value is not None else None

    @staticmethod
    def _series(
        dates: np.ndarray,
        roles: np.ndarray,
        probability: np.ndarray,
        up: np.ndarray,
        days: int,
    ) -> list[dict[str, Any]]:
        """Production's and the shadow's accuracy and AUC on each of the newest ``days``
        as-of dates (AUC None on a date whose rows all went one way)."""
        correct = (probability > 0.5) == (up == 1)
        accuracy: dict[str, dict[Any, float]] = {}
        auc: dict[str, dict[Any, float]] = {}
        for role in ("production", "shadow"):
            mask = roles == role
            if mask.any():
                unique, means = daily_means(correct[mask], dates[mask])
                accuracy[role] = dict(zip(unique.tolist(), means.tolist(), strict=True))
        all_dates = sorted(set(accuracy.get("production", {})) | set(accuracy.get("shadow", {})))
        shown = all_dates[-days:]
        for role in accuracy:
            index = np.flatnonzero(roles == role)
            index = index[np.argsort(dates[index], kind="stable")]
            on = dates[index]
            auc[role] = {}
            for day in shown:
                moment = np.datetime64(day, "D")
                lo = np.searchsorted(on, moment, side="left")
                hi = np.searchsorted(on, moment, side="right")
                if hi > lo:
                    rows = index[lo:hi]
                    auc[role][day] = roc_auc(up[rows], probability[rows])
        return [
            {
                "as_of": str(day),
                "production_accuracy": _round(accuracy.get("production", {}).get(day)),
                "shadow_accuracy": _round(accuracy.get("shadow", {}).get(day)),
                "production_auc": _round(auc.get("production", {}).get(day)),
                "shadow_auc": _round(auc.get("shadow", {}).get(day)),
            }
            for day in shown
        ]

    def _compare(
        self,
        production: str,
        shadow: str,
        versions: np.ndarray,
        tickers: np.ndarray,
        dates: np.ndarray,
        probability: np.ndarray,
        up: np.ndarray,
        horizon: int,
    ) -> dict[str, Any]:
        """Production and its shadow on identical (ticker, as-of) rows, and the paired test."""
        settings = self.settings.monitoring
        # One integer per (ticker, as-of): tickers are codes 0..n-1.
        keys = dates.astype(np.int64) * (int(tickers.max()) + 1) + tickers
        p_index = np.flatnonzero(versions == production)
        s_index = np.flatnonzero(versions == shadow)
        _, in_p, in_s = np.intersect1d(keys[p_index], keys[s_index], return_indices=True)
        p_rows, s_rows = p_index[in_p], s_index[in_s]
        on = dates[p_rows]
        p_correct = (probability[p_rows] > 0.5) == (up[p_rows] == 1)
        s_correct = (probability[s_rows] > 0.5) == (up[s_rows] == 1)
        if len(p_rows):
            order = np.argsort(on, kind="stable")
            _, difference = daily_means((p_correct.astype(float) - s_correct)[order], on[order])
        else:
            difference = np.empty(0)
        test = worse_test(
            difference,
            block=horizon,
            min_dates=settings.min_outcome_days,
            significance=settings.significance,
        )
        return {
            "production_version": production,
            "shadow_version": shadow,
            "rows": len(p_rows),
            "production": realised(
                probability[p_rows], up[p_rows], on, self._base_rate(production)
            ).to_json(),
            "shadow": realised(
                probability[s_rows], up[s_rows], dates[s_rows], self._base_rate(shadow)
            ).to_json(),
            "test": test.to_json(),
        }

    def _claim(
        self,
        production: str,
        versions: np.ndarray,
        dates: np.ndarray,
        correct: np.ndarray,
        horizon: int,
    ) -> dict[str, Any] | None:
        settings = self.settings.monitoring
        metrics = (self.registry.version_metadata(production) or {}).get("metrics") or {}
        claimed = metrics.get("accuracy")
        if claimed is None:
            return None
        mask = versions == production
        _, daily = daily_means(correct[mask], dates[mask])
        test = worse_test(
            daily - float(claimed),
            block=horizon,
            min_dates=settings.min_outcome_days,
            significance=settings.significance,
        )
        return {
            "version": production,
            "claimed_accuracy": _round(claimed),
            "claimed_roc_auc": _round(metrics.get("roc_auc")),
            "realised_accuracy": _round(float(correct[mask].mean())) if mask.any() else None,
            "test": test.to_json(),
        }

    def drift_report(self, market: MarketData, production: StoredModel) -> dict[str, Any]:
        """Each feature's newest ``drift_window_days`` dates against the training window."""
        settings = self.settings.monitoring
        dataset = self._datasets(market, production)[
            (production.model.feature_names, production.model.horizon)
        ]
        train_start = np.datetime64(production.model.train_start, "D")
        train_end = np.datetime64(production.model.train_end, "D")
        reference = dataset.take((dataset.dates >= train_start) & (dataset.dates <= train_end))
        recent_dates = np.unique(dataset.dates)[-settings.drift_window_days :]
        recent = dataset.take(np.isin(dataset.dates, recent_dates))
        thresholds = DriftThresholds(
            psi_bins=settings.psi_bins,
            psi_threshold=settings.psi_threshold,
            small_sample=settings.small_sample,
            ks_p_value=settings.ks_p_value,
            wasserstein_threshold=settings.wasserstein_threshold,
        )
        features = feature_drift(
            reference.X,
            recent.X,
            dataset.feature_names,
            thresholds,
            windows=[CATALOGUE[name].window for name in dataset.feature_names],
            dates=(len(np.unique(reference.dates)), len(recent_dates)),
        )
        drifted = sum(f.drifted for f in features)
        share = drifted / len(features) if features else 0.0
        psis = [f.psi for f in features if f.psi is not None]
        predicted_up = (
            float(np.mean(production.model.predict_proba(recent.X) > 0.5)) if len(recent) else None
        )
        base_rate = production.model.metrics.get("train_base_rate")
        shift = (
            abs(predicted_up - base_rate)
            if predicted_up is not None and base_rate is not None
            else None
        )
        return {
            "reference_start": str(train_start),
            "reference_end": str(train_end),
            "reference_rows": len(reference),
            "recent_start": str(recent_dates[0]) if len(recent_dates) else None,
            "recent_end": str(recent_dates[-1]) if len(recent_dates) else None,
            "recent_rows": len(recent),
            "features": [f.__dict__ for f in features],
            "drifted_features": drifted,
            "drifted_share": _round(share),
            "max_psi": max(psis) if psis else None,
            "drift": bool(features) and share >= settings.drift_share,
            "predicted_up": _round(predicted_up),
            "training_base_rate": _round(base_rate),
            "predicted_up_shift": shift is not None and shift > settings.predicted_up_tolerance,
        }

    def freshness(self, market: MarketData) -> dict[str, Any]:
        today = self._today()
        newest = market.last_date
        if newest is None:
            return {"newest_bar": None, "today": str(today), "age_days": None, "stale": True}
        age = int(np.busday_count(newest.astype("datetime64[D]"), today))
        return {
            "newest_bar": str(newest),
            "today": str(today),
            "age_days": max(age, 0),
            "stale": age > self.settings.monitoring.stale_days,
        }

    # -- the daily job ------------------------------------------------------------------------
    def run(self, origin: str = "scheduled") -> dict[str, Any]:
        """Log, join outcomes, measure, snapshot and apply the policies; returns the report."""
        now = self.clock()
        market = self._load(self.settings, self._today())
        production, _ = self.models()
        logged = self.score_latest(market, origin) if production is not None else 0
        outcomes = self.fill_outcomes(market)
        report = self.realised_report()
        report["at"] = now.isoformat()
        report["logged"] = logged
        report["outcomes_joined"] = outcomes
        report["freshness"] = self.freshness(market)
        report["drift"] = self.drift_report(market, production) if production else None
        report["actions"] = self._act(report)
        self.log.put_snapshot(now.isoformat(), report)
        for listener in self.on_report:
            _call(listener, report)
        return report

    def _act(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        today = str(self._today())

        def seen(kind: str, key: str) -> bool:
            if kind in (policies.DRIFT_RETRAIN, policies.STALE_DATA, policies.RESUMED):
                return self.log.has_event(kind, day=key)
            return self.log.has_event(kind, version=key)

        decisions = policies.decide(
            report,
            self.settings.monitoring,
            today=today,
            paused_at=self.log.paused_at(),
            seen=seen,
        )
        done = []
        for decision in decisions:
            body: dict[str, Any] = {"reason": decision.reason}
            if decision.resume:
                self.log.set_paused(None)
            if decision.pause:
                self.log.set_paused(decision.key)
            if decision.retrain:
                body.update(self._retrain(decision.reason))
            if decision.rollback:
                body.update(self._rollback(report["production_version"], decision.reason))
            elif decision.kind in (policies.WORSE_THAN_SHADOW, policies.WORSE_THAN_CLAIM):
                body["rolled_back"] = False
            if decision.kind in (
                policies.STALE_DATA,
                policies.WORSE_THAN_SHADOW,
                policies.WORSE_THAN_CLAIM,
            ) and not body.get("rolled_back"):
                self.alerts.deliver(Alert("Monitoring Alert", DEGRADED, decision.reason))
            keyed_by_day = decision.kind in (
                policies.DRIFT_RETRAIN,
                policies.STALE_DATA,
                policies.RESUMED,
            )
            event = MonitorEvent(
                at=self.clock().isoformat(),
                day=decision.key if keyed_by_day else today,
                kind=decision.kind,
                version=None if keyed_by_day else decision.key,
                body=body,
            )
            self.log.add_event(event)
            for listener in self.on_action:
                _call(listener, decision.kind)
            if body.get("rolled_back"):
                for listener in self.on_action:
                    _call(listener, "rollback")
            done.append(event.to_json())
        return done

    def _retrain(self, reason: str) -> dict[str, Any]:
        try:
            run = self.runner.retrain(trigger="drift")
        except AlreadyRunning as error:
            return {"retrain": "not started", "detail": str(error)}
        return {
            "retrain": run.outcome,
            "run_id": run.run_id,
            "version": run.version,
            "detail": run.reason,
        }

    def _rollback(self, production: str, reason: str) -> dict[str, Any]:
        try:
            result = self.runner.rollback(
                expected_version=production, reason=f"monitoring: {reason}"
            )
        except TradingEngineError as error:
            logger.error("monitoring: rollback refused: %s", error)
            self.alerts.deliver(
                Alert("Monitoring Alert", DEGRADED, f"{reason}; rollback refused: {error}")
            )
            return {"rolled_back": False, "detail": str(error)}
        self.alerts.deliver(Alert("Monitoring Rollback", ROLLBACK, f"{reason}; {result.message}"))
        return {"rolled_back": True, "to_version": result.version}

    # -- reading --------------------------------------------------------------------------------
    def version_report(self, version: str) -> dict[str, Any]:
        """Realised metrics of one version, live and backfilled. Raises VersionNotFound."""
        self.registry.version_path(version)  # InvalidVersionId
        known = self.registry.version_metadata(version) is not None
        if not known and version not in self.log.versions():
            raise VersionNotFound(f"version {version} not found and never logged a prediction")
        found: dict[str, Any] = {"version": version, "claim": None}
        metrics = (self.registry.version_metadata(version) or {}).get("metrics") or {}
        if metrics:
            found["claim"] = {
                "accuracy": _round(metrics.get("accuracy")),
                "roc_auc": _round(metrics.get("roc_auc")),
                "train_base_rate": _round(metrics.get("train_base_rate")),
            }
        for source in ("live", "backfill"):
            columns = list(zip(*self.log.rows(source, version=version), strict=True))
            if not columns:
                columns = [(), (), (), (), (), ()]
            day_text, day_code = np.unique(np.array(columns[3], dtype=str), return_inverse=True)
            found[source] = realised(
                np.array(columns[4], dtype=np.float64),
                np.array(columns[5], dtype=np.float64),
                day_text.astype("datetime64[D]")[day_code],
                self._base_rate(version),
            ).to_json()
        return found


def _round(value: Any, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


def _call(listener: Callable[..., None], *args: Any) -> None:
    try:
        listener(*args)
    except Exception:  # a listener (metrics) must never fail the monitor
        logger.exception("listener %s failed", listener)
