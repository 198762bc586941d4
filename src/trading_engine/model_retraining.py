"""ModelRetrainingService: the seed's orchestrator, scheduler and entry points.

A retrain reads as a straight pipeline::

    load market -> build dataset -> train and evaluate -> decide -> deploy -> record -> alert

Retrain, deploy and rollback hold the registry's cross-process lock; a second request while
one runs raises ``AlreadyRunning``. Scheduled runs use the same path as manual ones.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from .alerts import (
    DEGRADED,
    ERROR,
    FAILURE,
    ROLLBACK,
    SUCCESS,
    Alerts,
    FileAlertSink,
    WebhookAlertSink,
    metric_lines,
    run_lines,
)
from .config import Settings, get_settings
from .data import MarketData, load_market, require_enough
from .errors import AlreadyRunning, RegistryError, TradingEngineError
from .features import dataset_from_market
from .jobs import JobStore
from .logging_setup import configure_logging
from .registry import FLAT_METRICS, ModelRegistry, StoredModel, utc_now
from .storage import atomic_write_json
from .training import train_and_evaluate, tune_hyperparameters
from .training.trainer import Progress, no_progress

logger = logging.getLogger(__name__)

DAILY_JOB, WEEKLY_JOB, CATCH_UP_JOB = "daily_retrain", "weekly_full_retrain", "catch_up_retrain"


def default_alerts(settings: Settings, clock: Callable[[], datetime]) -> Alerts:
    sinks = [FileAlertSink(settings.paths.models_dir / "alerts.log")]
    if settings.alerts.webhook_url:
        sinks.append(
            WebhookAlertSink(
                settings.alerts.webhook_url,
                timeout=settings.alerts.webhook_timeout_seconds,
                retries=settings.alerts.webhook_retries,
            )
        )
    return Alerts(sinks, clock=lambda: clock().astimezone())


class ModelRetrainingService:
    """Retrains, validates, deploys and rolls back the production model."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        load: Callable[[Settings], MarketData] | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.clock = clock
        self.registry = ModelRegistry(
            self.settings.paths.models_dir,
            retention=self.settings.retraining.retention,
            clock=clock,
        )
        self.jobs = JobStore(self.settings.paths.models_dir / "jobs.json")
        self.alerts = alerts or default_alerts(self.settings, clock)
        self._load = load or (lambda s: load_market(s))
        schedule = self.settings.retraining.schedule
        self.scheduler = (
            BackgroundScheduler(timezone=schedule.timezone)
            if schedule.timezone
            else BackgroundScheduler()
        )
        self.is_running = False  # a retrain is in progress in this process
        # Listeners (e.g. Prometheus metrics): called after every run and rollback, never fatal.
        self.on_run: list[Callable[[dict[str, Any]], None]] = []
        self.on_rollback: list[Callable[[dict[str, Any], dict[str, Any]], None]] = []
        self._production: StoredModel | None = None
        self._production_stamp: tuple[int, int] | None = None
        self._production_lock = threading.Lock()

    # -- the seed's API ------------------------------------------------------------------
    @property
    def current_metrics(self) -> dict[str, Any]:
        record = self.registry.read_record()
        return {key: record.get(key) for key in FLAT_METRICS if key in record}

    def retrain_model(self, force: bool = False, *, full: bool = False) -> bool:
        """Retrain now; True when a new model was deployed. Raises AlreadyRunning."""
        return self.run_retrain(force=force, full=full)["outcome"] == "deployed"

    def run_retrain(
        self, *, force: bool = False, full: bool = False, progress: Progress = no_progress
    ) -> dict[str, Any]:
        """Retrain now and return the run record (outcome, reason, metrics, gates...)."""
        lock = self.registry.acquire()
        try:
            return self._retrain_locked(force=force, full=full, trigger="manual", progress=progress)
        finally:
            lock.release()

    def get_status(self) -> dict[str, Any]:
        """The seed's status JSON, plus the production version and the last run."""
        jobs = [
            {
                "id": job.id,
                "name": job.name,
                "next_run_time": job.next_run_time.isoformat() if job.next_run_time else None,
                "trigger": str(job.trigger),
            }
            for job in self.scheduler.get_jobs()
        ]
        upcoming = sorted(j["next_run_time"] for j in jobs if j["next_run_time"])
        record = self.registry.read_record()
        return {
            "running": bool(self.scheduler.running),
            "retraining": self.is_running or self._lock_held(),
            "current_metrics": self.current_metrics,
            "next_retraining": upcoming[0] if upcoming else self._next_daily_run(),
            "scheduled_jobs": jobs,
            "model_path": str(self.registry.prod_path),
            "backup_path": str(self.registry.backup_path),
            "production_version": record.get("version"),
            "last_run": record["history"][-1] if record["history"] else None,
        }

    # -- jobs ----------------------------------------------------------------------------
    def start_retrain_job(
        self, force: bool = False, *, full: bool = False, trigger: str = "manual"
    ) -> dict[str, Any]:
        """Start a retrain in a background thread; returns the job. Raises AlreadyRunning."""
        lock = self.registry.acquire()
        try:
            now = self.clock()
            job_id = self.jobs.new_id(now)
            job = self.jobs.update(
                job_id,
                status="queued",
                created_at=now.isoformat(),
                force=force,
                full=full,
                trigger=trigger,
            )
            thread = threading.Thread(
                target=self._run_job,
                args=(job_id, lock, force, full, trigger),
                name=job_id,
                daemon=True,
            )
            self.is_running = True
            thread.start()
            return job
        except BaseException:
            self.is_running = False
            lock.release()
            raise

    def _run_job(self, job_id: str, lock: Any, force: bool, full: bool, trigger: str) -> None:
        try:
            self.jobs.update(job_id, status="running", started_at=self.clock().isoformat())
            run = self._retrain_locked(force=force, full=full, trigger=trigger, job_id=job_id)
            status = {"deployed": "succeeded", "rejected": "rejected"}.get(run["outcome"], "failed")
            self.jobs.update(
                job_id,
                status=status,
                finished_at=self.clock().isoformat(),
                reason=run.get("reason"),
                version=run.get("version"),
            )
        except BaseException as error:  # never leave a job "running" forever
            logger.exception("job %s crashed", job_id)
            self.jobs.update(
                job_id, status="failed", reason=str(error), finished_at=self.clock().isoformat()
            )
        finally:
            self.is_running = False
            lock.release()

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get(job_id)

    # -- the pipeline (lock held) ------------------------------------------------------------
    def _retrain_locked(
        self,
        *,
        force: bool,
        full: bool,
        trigger: str,
        job_id: str | None = None,
        progress: Progress = no_progress,
    ) -> dict[str, Any]:
        self.is_running = True
        started = self.clock()
        clock = time.perf_counter()
        run: dict[str, Any] = {
            "job_id": job_id,
            "trigger": trigger,
            "full": full,
            "forced": force,
            "started_at": started.isoformat(),
            "version": None,
        }
        production: StoredModel | None = None
        try:
            progress("loading market data", 0, 1)
            market = require_enough(self._load(self.settings), self.settings.data.min_tickers)
            progress("building features", 0, 1)
            run["data_findings"] = len(market.report.findings)
            run["skipped"] = market.report.skipped
            dataset = dataset_from_market(
                market,
                horizon=self.settings.retraining.horizon,
                features=self.settings.retraining.features,
            )
            production = self._load_production_for_run()
            params = self._hyperparameters(dataset, full, progress)
            result = train_and_evaluate(
                dataset,
                production.model if production else None,
                self.settings.retraining,
                params=params,
                force=force,
                progress=progress,
            )
            run.update(
                samples=result.samples,
                tickers=result.tickers,
                metrics=result.metrics,
                previous_metrics=production.model.metrics if production else None,
                previous_version=production.version if production else None,
                gates=result.gates.to_dict(),
                timings=result.timings,
                folds=[
                    {
                        "fold": f.fold,
                        "test_dates": f.test_dates,
                        "f1_score": f.metrics["f1_score"],
                        "accuracy": f.metrics["accuracy"],
                    }
                    for f in result.folds
                ],
                comparison=asdict(result.comparison) if result.comparison else None,
            )
            if result.gates.deploy:
                reason = (
                    "forced deployment (gates skipped)"
                    if force and not result.gates.passed
                    else f"{trigger} retrain passed every gate"
                )
                run["version"] = self.registry.deploy(
                    result.model, gate_report=result.gates.to_dict(), reason=reason, forced=force
                )
                run["outcome"], run["reason"] = "deployed", reason
            else:
                failed = ", ".join(g.name for g in result.gates.failed)
                run["outcome"], run["reason"] = "rejected", f"failed gate(s): {failed}"
        except TradingEngineError as error:
            run["outcome"], run["reason"] = "failed", str(error)
            logger.error("retrain failed: %s", error)
        except Exception as error:  # a bug must still end as a recorded, alerted failure
            run["outcome"], run["reason"] = "failed", f"{type(error).__name__}: {error}"
            logger.exception("retrain crashed")
        finally:
            run["finished_at"] = self.clock().isoformat()
            run["duration_seconds"] = round(time.perf_counter() - clock, 3)
            self.is_running = False
        self._record_and_alert(run)
        return run

    def _load_production_for_run(self) -> StoredModel | None:
        stored, problem = self.registry.load_production()
        if problem:
            self.alerts.send("Production Model Unreadable", ERROR, problem)
            logger.error(problem)
        return stored

    def _hyperparameters(
        self, dataset: Any, full: bool, progress: Progress = no_progress
    ) -> dict[str, Any] | None:
        path = self.registry.tuned_params_path
        if full:
            params = tune_hyperparameters(dataset, self.settings.retraining, progress=progress)
            atomic_write_json(path, {"tuned_at": self.clock().isoformat(), "params": params})
            return params
        if path.exists():
            try:
                return json.loads(path.read_text())["params"]
            except (ValueError, KeyError):
                logger.warning("%s unreadable; using the configured hyperparameters", path)
        return None

    def _notify(self, listeners: list[Callable[..., None]], *args: Any) -> None:
        for listener in listeners:
            try:
                listener(*args)
            except Exception:
                logger.exception("listener %s failed", listener)

    def _record_and_alert(self, run: dict[str, Any]) -> None:
        try:
            self.registry.record_run(run)
        except RegistryError as error:
            logger.error("could not record the run: %s", error)
        self._notify(self.on_run, run)
        metrics, previous = run.get("metrics") or {}, run.get("previous_metrics")
        paths = [f"Model Path: {self.registry.prod_path}", f"Backup: {self.registry.backup_path}"]
        if run["outcome"] == "deployed":
            headline = (
                "New model deployed successfully!"
                if not run["forced"]
                else "New model deployed by force (gates skipped)!"
            )
            lines = (
                run_lines(run)
                + metric_lines(metrics, previous)
                + ["", f"Version: {run['version']}", *paths]
            )
            self.alerts.send("Model Retraining Success", SUCCESS, headline, lines)
        elif run["outcome"] == "rejected":
            failing = [g for g in run["gates"]["gates"] if not g["passed"]]
            degraded = any(g["name"] in ("max_f1_drop", "max_accuracy_drop") for g in failing)
            gate_lines = ["Failed gates:"] + [
                f"- {g['name']}: {g['value']:.4f} (needs {g['rule']} {g['threshold']:.4f})"
                for g in failing
            ]
            lines = (
                run_lines(run)
                + metric_lines(metrics, previous)
                + ["", *gate_lines, "", "Production model kept.", *paths]
            )
            if degraded:
                headline = "Candidate is worse than production; not deployed."
                self.alerts.send("Model Performance Degradation", DEGRADED, headline, lines)
            else:
                self.alerts.send(
                    "Model Validation Failed",
                    FAILURE,
                    "Candidate failed validation; not deployed.",
                    lines,
                )
        else:
            self.alerts.send(
                "Model Retraining Error",
                ERROR,
                f"Retraining failed: {run['reason']}",
                [*run_lines(run), "Production model kept.", *paths],
            )

    # -- rollback ----------------------------------------------------------------------------
    def rollback(
        self, version: str | None = None, *, reason: str = "manual rollback"
    ) -> dict[str, Any]:
        """Roll production back to the backup (or to ``version``). Raises AlreadyRunning."""
        lock = self.registry.acquire()
        try:
            previous = self.registry.read_record().get("version")
            target = self.registry.rollback(version, reason=reason)
        finally:
            lock.release()
        result = {
            "success": True,
            "message": f"Successfully rolled back to model version {target}",
            "version": target,
            "previous_version": previous,
        }
        self._notify(self.on_rollback, result, self.registry.read_record().get("metrics") or {})
        self.alerts.send(
            "Model Rollback",
            ROLLBACK,
            f"Rolled back from {previous} to {target}.",
            [
                f"Reason: {reason}",
                f"Model Path: {self.registry.prod_path}",
                f"Backup: {self.registry.backup_path}",
            ],
        )
        return result

    # -- production model for predictions ---------------------------------------------------
    def production_model(self) -> StoredModel | None:
        """The production model, reloaded only when the file changed; backup when prod is bad."""
        with self._production_lock:
            try:
                status = self.registry.prod_path.stat()
                # Every deploy renames a new file into place: a new inode, whatever the clock.
                stamp: tuple[int, int] | None = (status.st_ino, status.st_mtime_ns)
            except FileNotFoundError:
                stamp = None
            if self._production is not None and self._production_stamp == stamp:
                return self._production
            stored, problem = self.registry.load_production()
            if problem:
                self.alerts.send("Production Model Unreadable", ERROR, problem)
            self._production, self._production_stamp = stored, stamp
            return stored

    # -- scheduler -----------------------------------------------------------------------------
    def triggers(self) -> tuple[CronTrigger, CronTrigger]:
        """The daily and the weekly cron triggers, from settings."""
        schedule = self.settings.retraining.schedule
        zone = {"timezone": schedule.timezone} if schedule.timezone else {}
        daily = CronTrigger(hour=schedule.daily_hour, minute=schedule.daily_minute, **zone)
        weekly = CronTrigger(
            day_of_week=schedule.weekly_day,
            hour=schedule.weekly_hour,
            minute=schedule.weekly_minute,
            **zone,
        )
        return daily, weekly

    def _next_daily_run(self) -> str | None:
        daily, _ = self.triggers()
        fire = daily.get_next_fire_time(None, self.clock())
        return fire.isoformat() if fire else None

    def missed_run(self) -> str | None:
        """ "daily" or "full" when a scheduled run fell due since the last run (machine was off).

        However many runs were missed, one catch-up run is enough (coalesced).
        """
        history = self.registry.read_record()["history"]
        if not history:
            return None
        last = datetime.fromisoformat(history[-1]["started_at"])
        now = self.clock()
        daily, weekly = self.triggers()
        grace = self.settings.retraining.schedule.misfire_grace_seconds
        missed_weekly = weekly.get_next_fire_time(None, last)
        if (
            missed_weekly
            and missed_weekly <= now
            and (now - missed_weekly).total_seconds() <= 7 * 86400
        ):
            return "full"
        missed_daily = daily.get_next_fire_time(None, last)
        if missed_daily and missed_daily <= now:
            latest_due = missed_daily
            while (
                following := daily.get_next_fire_time(latest_due, latest_due)
            ) and following <= now:
                latest_due = following
            if (now - latest_due).total_seconds() <= max(grace, 86400):
                return "daily"
        return None

    def _scheduled(self, full: bool) -> None:
        trigger = "scheduled-weekly" if full else "scheduled-daily"
        try:
            self.start_retrain_job(full=full, trigger=trigger)
        except AlreadyRunning:
            logger.info("%s retrain skipped: another retrain is running", trigger)

    def start_scheduler(self, *, paused: bool = False) -> None:
        """Daily and weekly jobs; a run missed while the process was down runs once now."""
        if self.scheduler.running:
            return
        daily, weekly = self.triggers()
        grace = self.settings.retraining.schedule.misfire_grace_seconds
        common = {
            "coalesce": True,
            "misfire_grace_time": grace,
            "max_instances": 1,
            "replace_existing": True,
        }
        self.scheduler.add_job(
            self._scheduled,
            daily,
            id=DAILY_JOB,
            name="Daily retrain",
            kwargs={"full": False},
            **common,
        )
        self.scheduler.add_job(
            self._scheduled,
            weekly,
            id=WEEKLY_JOB,
            name="Weekly full retrain",
            kwargs={"full": True},
            **common,
        )
        missed = self.missed_run()
        if missed:
            logger.info("a scheduled %s retrain was missed; running it once now", missed)
            self.scheduler.add_job(
                self._scheduled,
                "date",
                run_date=self.clock(),
                id=CATCH_UP_JOB,
                name="Catch-up retrain",
                kwargs={"full": missed == "full"},
                **common,
            )
        self.scheduler.start(paused=paused)

    def stop_scheduler(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _lock_held(self) -> bool:
        lock = self.registry.lock()
        try:
            lock.acquire()
        except Exception:
            return True
        lock.release()
        return False


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
