"""The seed's façade: ``ModelRetrainingService``, ``get_retraining_service()``,
``start_retraining_scheduler()``.

It wires the roles together and keeps the seed's names; the work is done elsewhere:
``store`` (the store of record and its files), ``service.pipeline`` (one retrain),
``service.runner`` (lock, jobs, rollback), ``service.schedule`` (when), ``service.serving``
(the production model and predictions), ``alerts`` (wording). The clock is injected: market
data and the demo market take "today" from it, never from the wall clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .alerts import ERROR, Alert, Alerts, FileAlertSink, WebhookAlertSink
from .config import Settings, get_settings
from .errors import AlreadyRunning, StoreUnavailable
from .features.catalogue import feature_window
from .logging_setup import configure_logging
from .records import METRIC_KEYS, Job, RollbackResult, RunRecord
from .service import schedule
from .store import ModelRegistry, Repair, utc_now

# Read commands (status, history, models, schedule) need the store only: market data, training
# and serving (numpy, pandas, TA-Lib, LightGBM) are imported when first used.
if TYPE_CHECKING:
    import numpy as np

    from .data import MarketData
    from .monitoring.monitor import Monitor
    from .service.runner import Runner
    from .service.serving import Predictor, ProductionModels
    from .training.model import StoredModel
    from .training.trainer import Progress

logger = logging.getLogger(__name__)


class MarketLoader(Protocol):
    """Loads the market as of ``today``; only ``tickers`` when given (for predictions)."""

    def __call__(
        self, settings: Settings, today: np.datetime64, *, tickers: Sequence[str] | None = None
    ) -> MarketData: ...


def default_alerts(settings: Settings, clock: Callable[[], datetime]) -> Alerts:
    sinks: list = [FileAlertSink(settings.paths.models_dir / "alerts.log")]
    if settings.alerts.webhook_url:
        sinks.append(
            WebhookAlertSink(
                settings.alerts.webhook_url,
                timeout=settings.alerts.webhook_timeout_seconds,
                retries=settings.alerts.webhook_retries,
            )
        )
    return Alerts(sinks, clock=lambda: clock().astimezone())


def load_training_market(
    settings: Settings,
    today: np.datetime64 | None = None,
    folder: Path | None = None,
    *,
    tickers: Sequence[str] | None = None,
) -> MarketData:
    """The configured market (or ``folder``; only ``tickers`` when given) as of ``today``:
    tickers too short for the slowest feature plus the horizon are skipped with a finding."""
    from .data import load_market

    return load_market(
        settings,
        tickers=tickers,
        folder=folder,
        today=today,
        min_history=feature_window(settings.retraining.features),
    )


class ModelRetrainingService:
    """Retrains, validates, deploys and rolls back the production model (the seed's name)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        load: MarketLoader | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.clock = clock
        self.alerts = alerts or default_alerts(self.settings, clock)
        self.registry = ModelRegistry(
            self.settings.paths.models_dir,
            retention=self.settings.retraining.retention,
            clock=clock,
            on_repair=self._repaired,
        )
        self._load = load or load_training_market
        self._production: ProductionModels | None = None
        self._runner: Runner | None = None
        self._monitor: Monitor | None = None
        self._parts_lock = threading.Lock()
        self._scheduler: Any = None

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        runner = getattr(self, "_runner", None)
        if runner is not None:
            runner.settings = settings
        monitor = getattr(self, "_monitor", None)
        if monitor is not None:
            monitor.settings = settings

    @property
    def production(self) -> ProductionModels:
        """The production model cache, built on first use (it imports LightGBM)."""
        with self._parts_lock:
            if self._production is None:
                from .service.serving import ProductionModels

                self._production = ProductionModels(self.registry, self._production_problem)
            return self._production

    @property
    def runner(self) -> Runner:
        """Retrains, jobs and rollbacks, built on first use (it imports the whole pipeline)."""
        production = self.production
        with self._parts_lock:
            if self._runner is None:
                from .service.runner import Runner

                self._runner = Runner(
                    self.settings,
                    self.registry,
                    production,
                    self.alerts,
                    clock=self.clock,
                    load=self._load,
                )
                # Once after every deploy or rollback: the new production (and its shadow)
                # predict today's bars into the prediction log.
                self._runner.on_run.append(self._after_run)
                self._runner.on_rollback.append(lambda result, metrics: self._after_change())
            return self._runner

    @property
    def monitor(self) -> Monitor:
        """The live monitor (prediction log, outcomes, drift, policies), built on first use."""
        runner, production = self.runner, self.production
        with self._parts_lock:
            if self._monitor is None:
                from .monitoring.monitor import Monitor

                self._monitor = Monitor(
                    self.settings,
                    self.registry,
                    production,
                    runner,
                    self.alerts,
                    clock=self.clock,
                    load=self._load,
                )
            return self._monitor

    def _after_run(self, run: RunRecord) -> None:
        if run.outcome == "deployed":
            self._after_change()

    def _after_change(self) -> None:
        if self.settings.monitoring.enabled:
            self.monitor.after_change()

    def run_monitoring(self, origin: str = "manual") -> dict[str, Any]:
        """What the daily monitoring job does, now: log, join outcomes, measure, act."""
        return self.monitor.run(origin)

    def monitoring_snapshot(self) -> dict[str, Any] | None:
        """The last report the monitoring job stored (no numpy: read commands stay light)."""
        from .store.predictions import PredictionLog

        return PredictionLog(self.registry.db).latest_snapshot() if self.registry.ensure() else None

    # -- events -----------------------------------------------------------------------------
    @property
    def on_run(self) -> list[Callable[[RunRecord], None]]:
        return self.runner.on_run

    @property
    def on_rollback(self) -> list[Callable[[RollbackResult, dict[str, Any]], None]]:
        return self.runner.on_rollback

    def _repaired(self, repair: Repair) -> None:
        if repair.alert:
            self.alerts.deliver(Alert("Model Store Repaired", ERROR, repair.message))

    def _production_problem(self, problem: str) -> None:
        logger.error("production model: %s", problem)
        self.alerts.deliver(Alert("Production Model Unreadable", ERROR, problem))

    # -- the seed's API ------------------------------------------------------------------------
    @property
    def current_metrics(self) -> dict[str, Any]:
        metrics = self.registry.production_metrics()
        return {key: metrics[key] for key in METRIC_KEYS if key in metrics}

    @property
    def is_running(self) -> bool:
        """A retrain, deploy or rollback is in progress (in any process); never takes the lock."""
        return self.registry.busy()

    def retrain_model(self, force: bool = False, *, full: bool = False) -> bool:
        """Retrain now; True when a new model was deployed. Raises AlreadyRunning."""
        return self.run_retrain(force=force, full=full).outcome == "deployed"

    def run_retrain(
        self,
        *,
        force: bool = False,
        full: bool = False,
        trigger: str = "manual",
        progress: Progress | None = None,
    ) -> RunRecord:
        """Retrain now and return the run record (outcome, reason, metrics, gates...)."""
        if progress is None:
            from .training.trainer import no_progress

            progress = no_progress
        return self.runner.retrain(force=force, full=full, trigger=trigger, progress=progress)

    def start_retrain_job(
        self, force: bool = False, *, full: bool = False, trigger: str = "manual"
    ) -> Job:
        """Start a retrain in a background thread; returns the job. Raises AlreadyRunning."""
        return self.runner.start_job(force=force, full=full, trigger=trigger)

    def get_job(self, job_id: str) -> Job | None:
        return self.registry.job(job_id)

    def rollback(
        self,
        version: str | None = None,
        *,
        expected_version: str | None = None,
        reason: str = "manual rollback",
    ) -> RollbackResult:
        """Roll production back to the backup (or to ``version``). Raises AlreadyRunning."""
        return self.runner.rollback(version, expected_version=expected_version, reason=reason)

    def production_model(self) -> StoredModel | None:
        """The model serving now (production, else its verified fallback), cached."""
        return self.production.current()

    def today(self) -> np.datetime64:
        import numpy as np

        return np.datetime64(self.clock().date(), "D")

    def predictor(self, folder: Path | None = None) -> Predictor:
        """Predictions from the market production was trained on (or from ``folder``), loading
        only the tickers asked for."""
        from .service.serving import Predictor

        def load(stored: StoredModel, tickers: Sequence[str]) -> MarketData:
            source = stored.metadata.get("data_source") or {}
            where = folder or (Path(source["folder"]) if source.get("folder") else None)
            if where is not None:
                return load_training_market(
                    self.settings, self.today(), folder=where, tickers=tickers
                )
            settings = self.settings
            provider = source.get("provider")
            if provider and provider != settings.data.provider:
                data = settings.data.model_copy(update={"provider": provider})
                settings = settings.model_copy(update={"data": data})
            return self._load(settings, self.today(), tickers=tickers)

        return Predictor(self.settings, self.production.current, load, today=self.today)

    def get_status(self) -> dict[str, Any]:
        """The seed's status JSON, plus the production version and the last run."""
        jobs = [
            {
                "id": job.id,
                "name": job.name,
                "next_run_time": job.next_run_time.isoformat() if job.next_run_time else None,
                "trigger": str(job.trigger),
            }
            for job in (self._scheduler.get_jobs() if self._scheduler else [])
        ]
        upcoming = sorted(j["next_run_time"] for j in jobs if j["next_run_time"])
        next_daily = schedule.next_daily_run(self.settings.retraining.schedule, self.clock())
        pointers = self.registry.pointers()
        last = self.registry.last_run()
        return {
            "running": self.scheduler_running,
            "retraining": self.is_running,
            "current_metrics": self.current_metrics,
            "next_retraining": upcoming[0]
            if upcoming
            else (next_daily.isoformat() if next_daily else None),
            "scheduled_jobs": jobs,
            "model_path": str(self.registry.prod_path),
            "backup_path": str(self.registry.backup_path),
            "production_version": pointers.get("production"),
            "backup_version": pointers.get("backup"),
            "last_run": last.to_json() if last else None,
        }

    # -- start-up ---------------------------------------------------------------------------------
    def recover(self) -> None:
        """At start-up: import an old folder, close what a dead process left, repair files.

        Skipped (and logged) while another process holds the lock: that one reconciled already.
        """
        try:
            self.registry.repair()
        except AlreadyRunning:
            logger.info(
                "another process is writing %s; start-up repair skipped", self.registry.models_dir
            )
        except StoreUnavailable as error:
            logger.error("the model store cannot be written: %s", error)

    # -- scheduler -------------------------------------------------------------------------------
    @property
    def scheduler(self) -> Any:
        if self._scheduler is None:
            from apscheduler.schedulers.background import BackgroundScheduler

            zone = self.settings.retraining.schedule.timezone
            self._scheduler = BackgroundScheduler(timezone=zone) if zone else BackgroundScheduler()
        return self._scheduler

    def triggers(self) -> tuple[Any, Any]:
        """The daily and the weekly cron triggers, from settings."""
        return schedule.triggers(self.settings.retraining.schedule)

    def missed_run(self) -> schedule.Missed | None:
        """``"daily"`` or ``"full"`` when a scheduled run fell due since the last run."""
        last = self.registry.last_run()
        started = datetime.fromisoformat(last.started_at) if last else None
        return schedule.missed_run(started, self.clock(), self.settings.retraining.schedule)

    def _scheduled(self, full: bool) -> None:
        trigger = "scheduled-weekly" if full else "scheduled-daily"
        from .store.predictions import PredictionLog

        try:
            paused = PredictionLog(self.registry.db).paused_at() if self.registry.ensure() else None
        except StoreUnavailable:
            paused = None
        if paused is not None:
            logger.warning(
                "%s retrain paused: the data is stale (newest bar %s); it resumes when a newer "
                "bar arrives",
                trigger,
                paused,
            )
            return
        try:
            self.start_retrain_job(full=full, trigger=trigger)
        except AlreadyRunning:
            logger.info("%s retrain skipped: another retrain is running", trigger)
        except StoreUnavailable as error:
            logger.error("%s retrain not started: %s", trigger, error)

    def start_scheduler(self, *, paused: bool = False) -> None:
        """Daily and weekly jobs; a run missed while the process was down runs once now."""
        scheduler = self.scheduler
        if scheduler.running:
            return
        daily, weekly = self.triggers()
        common = {
            "coalesce": True,
            "misfire_grace_time": self.settings.retraining.schedule.misfire_grace_seconds,
            "max_instances": 1,
            "replace_existing": True,
        }
        scheduler.add_job(
            self._scheduled,
            daily,
            id=schedule.DAILY_JOB,
            name="Daily retrain",
            kwargs={"full": False},
            **common,
        )
        scheduler.add_job(
            self._scheduled,
            weekly,
            id=schedule.WEEKLY_JOB,
            name="Weekly full retrain",
            kwargs={"full": True},
            **common,
        )
        monitoring = self.settings.monitoring
        if monitoring.enabled:
            scheduler.add_job(
                self._scheduled_monitoring,
                schedule.monitoring_trigger(self.settings),
                id=schedule.MONITOR_JOB,
                name="Daily monitoring",
                **common,
            )
        missed = self.missed_run()
        if missed:
            logger.info("a scheduled %s retrain was missed; running it once now", missed)
            scheduler.add_job(
                self._scheduled,
                "date",
                run_date=self.clock(),
                id=schedule.CATCH_UP_JOB,
                name="Catch-up retrain",
                kwargs={"full": missed == "full"},
                **common,
            )
        scheduler.start(paused=paused)

    @property
    def scheduler_running(self) -> bool:
        return bool(self._scheduler is not None and self._scheduler.running)

    def _scheduled_monitoring(self) -> None:
        try:
            self.monitor.run("scheduled")
        except Exception:  # the scheduler must keep running whatever one day's job met
            logger.exception("the daily monitoring job failed")

    def stop_scheduler(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)


_service: ModelRetrainingService | None = None
_service_lock = threading.Lock()


def get_retraining_service() -> ModelRetrainingService:
    """The process's one service (the seed's name)."""
    global _service
    with _service_lock:
        if _service is None:
            settings = get_settings()
            configure_logging(settings.paths.logs_dir)
            _service = ModelRetrainingService(settings)
        return _service


def start_retraining_scheduler() -> ModelRetrainingService:
    """Start the daily and weekly retraining jobs of the process's service (the seed's name)."""
    service = get_retraining_service()
    service.start_scheduler()
    return service


__all__ = [
    "ModelRetrainingService",
    "get_retraining_service",
    "start_retraining_scheduler",
]
