"""The runner: the one writer's lock, retrains now or in the background, rollbacks.

Every retrain, whatever starts it (CLI, API, scheduler), goes through ``Runner.retrain`` or
``Runner.start_job`` and so through one lock, one run record and one alert. A background job's
final state is written only after the lock is released, so a client that sees "succeeded"
can act at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

import numpy as np

from ..alerts import ERROR, Alerts, rollback_alert, run_alert
from ..config import Settings
from ..data import MarketData, require_enough
from ..errors import StoreUnavailable, TradingEngineError
from ..records import (
    FINAL_JOB_STATUS,
    DataRecord,
    FindingRecord,
    Job,
    RollbackResult,
    RunRecord,
)
from ..store import ModelRegistry, WriteSession
from ..store.files import atomic_write_json
from ..training.trainer import Progress, no_progress
from .pipeline import run_retrain
from .serving import ProductionModels

logger = logging.getLogger(__name__)

RunListener = Callable[[RunRecord], None]
RollbackListener = Callable[[RollbackResult, dict[str, Any]], None]


class Runner:
    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        production: ProductionModels,
        alerts: Alerts,
        *,
        clock: Callable[[], datetime],
        load: Callable[[Settings, np.datetime64], MarketData],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.production = production
        self.alerts = alerts
        self.clock = clock
        self._load = load
        self.on_run: list[RunListener] = []
        self.on_rollback: list[RollbackListener] = []
        self._threads: list[threading.Thread] = []
        # The market the last retrain loaded, with its day: the monitor logs the new
        # production's predictions from it after a deploy instead of loading (downloading) it
        # again.
        self.last_market: tuple[np.datetime64, MarketData] | None = None

    @property
    def paths(self) -> list[str]:
        return [
            f"Model Path: {self.registry.prod_path}",
            f"Backup: {self.registry.backup_path}",
        ]

    # -- retrains ----------------------------------------------------------------------------
    def retrain(
        self,
        *,
        force: bool = False,
        full: bool = False,
        trigger: str = "manual",
        progress: Progress = no_progress,
    ) -> RunRecord:
        """Retrain now, in this thread. Raises AlreadyRunning."""
        session = self.registry.acquire()
        try:
            run = self._retrain_locked(
                session, force=force, full=full, trigger=trigger, progress=progress
            )
        finally:
            session.release()
        self._announce(run)
        return run

    def start_job(self, *, force: bool = False, full: bool = False, trigger: str = "manual") -> Job:
        """Start a retrain in a background thread and return its job. Raises AlreadyRunning."""
        session = self.registry.acquire()
        try:
            now = self.clock()
            job = Job(
                job_id=self.registry.new_job_id(now),
                status="queued",
                created_at=now.isoformat(),
                force=force,
                full=full,
                trigger=trigger,
            )
            self.registry.save_job(job)
            thread = threading.Thread(
                target=self._run_job, args=(session, job), name=job.job_id, daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
            return job
        except BaseException:
            session.release()
            raise

    def _run_job(self, session: WriteSession, job: Job) -> None:
        run: RunRecord | None = None
        try:
            job = job.model_copy(
                update={"status": "running", "started_at": self.clock().isoformat()}
            )
            self.registry.save_job(job)
            run = self._retrain_locked(
                session, force=job.force, full=job.full, trigger=job.trigger, job_id=job.job_id
            )
            final = {
                "status": FINAL_JOB_STATUS[run.outcome],
                "reason": run.reason,
                "version": run.version,
            }
        except BaseException as error:  # never leave a job "running" forever
            logger.exception("job %s crashed", job.job_id)
            final = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
        finally:
            session.release()
        try:  # only now: whoever sees the final state may take the lock at once
            self.registry.save_job(
                job.model_copy(update={**final, "finished_at": self.clock().isoformat()})
            )
        except StoreUnavailable as error:
            logger.error("could not record the end of job %s: %s", job.job_id, error)
        if run is not None:
            self._announce(run)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for background jobs started by this runner (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _retrain_locked(
        self,
        session: WriteSession,
        *,
        force: bool,
        full: bool,
        trigger: str,
        job_id: str | None = None,
        progress: Progress = no_progress,
    ) -> RunRecord:
        started = self.clock()
        run = RunRecord(
            run_id=job_id or f"run_{started:%Y%m%d_%H%M%S}_{secrets.token_hex(2)}",
            job_id=job_id,
            trigger=trigger,
            full=full,
            forced=force,
            started_at=started.isoformat(),
        )
        try:
            self.registry.save_run(run)  # "running": a kill from here on leaves "interrupted"
        except StoreUnavailable as error:
            return self._failed(run, str(error), record=False)
        try:
            progress("loading market data", 0, 1)
            today = np.datetime64(started.date(), "D")
            market = self._load(self.settings, today)
            self.last_market = (today, market)
            run = run.model_copy(
                update={
                    "data_findings": len(market.report.findings),
                    "skipped": market.report.skipped,
                    "data": data_record(market),
                    "findings": findings_that_matter(market),
                }
            )
            market = require_enough(market, self.settings.data.min_tickers)
            if trigger.startswith("scheduled") and (unchanged := self._same_data_as(run)):
                return self._skipped(run, unchanged)
            result = run_retrain(
                self.settings,
                market,
                self.production.for_training(),
                clock=self.clock,
                store=self.registry,
                session=session,
                run=run,
                params=None if full else self._tuned_params(),
                progress=progress,
            )
            if result.tuned_params is not None:
                self._save_tuned_params(result.tuned_params)
            if result.run.outcome != "deployed":  # a deploy commits its run itself
                self.registry.save_run(result.run)
            return result.run
        except TradingEngineError as error:
            logger.error("retrain failed: %s", error)
            return self._failed(run, str(error))
        except Exception as error:  # a bug must still end as a recorded, alerted failure
            logger.exception("retrain crashed")
            return self._failed(run, f"{type(error).__name__}: {error}")

    def _skipped_before(self, run: RunRecord) -> bool:
        _, recent = self.registry.history(limit=2)
        earlier = [r for r in recent if r.run_id != run.run_id][:1]
        return bool(earlier) and earlier[0].outcome == "skipped"

    def _same_data_as(self, run: RunRecord) -> RunRecord | None:
        """The last run that saw data, when it saw exactly this data."""
        _, recent = self.registry.history(limit=50)
        for earlier in recent:
            if earlier.run_id != run.run_id and earlier.data is not None:
                same = run.data is not None and earlier.data.fingerprint == run.data.fingerprint
                return earlier if same else None
        return None

    def _skipped(self, run: RunRecord, earlier: RunRecord) -> RunRecord:
        """A scheduled run on data nobody refreshed: recorded, not retrained."""
        finished = self.clock()
        last = earlier.data.last_date if earlier.data else None
        skipped = run.model_copy(
            update={
                "outcome": "skipped",
                "reason": (
                    f"skipped: no new data since run {earlier.run_id} (newest bar {last}); "
                    "refresh the data, or retrain by hand to train on it anyway"
                ),
                "finished_at": finished.isoformat(),
                "duration_seconds": round(
                    (finished - datetime.fromisoformat(run.started_at)).total_seconds(), 3
                ),
            }
        )
        self.registry.save_run(skipped)
        return skipped

    def _failed(self, run: RunRecord, reason: str, *, record: bool = True) -> RunRecord:
        committed = self.registry.db.run(run.run_id) if record else None
        if committed is not None and committed.outcome == "deployed":
            return committed  # the deploy committed before the error: it happened
        finished = self.clock()
        failed = run.model_copy(
            update={
                "outcome": "failed",
                "reason": reason,
                "finished_at": finished.isoformat(),
                "duration_seconds": round(
                    (finished - datetime.fromisoformat(run.started_at)).total_seconds(), 3
                ),
            }
        )
        if record:
            try:
                self.registry.save_run(failed)
            except StoreUnavailable as error:
                logger.error("could not record the failed run: %s", error)
        return failed

    def _announce(self, run: RunRecord) -> None:
        logger.info("retrain %s: %s (%s)", run.run_id, run.outcome, run.reason)
        for listener in self.on_run:
            _call(listener, run)
        if run.outcome == "skipped" and self._skipped_before(run):
            return  # alerted once already for this unchanged data
        alert = run_alert(run, self.paths)
        if alert is not None:
            self.alerts.deliver(alert)

    # -- tuned hyperparameters ----------------------------------------------------------------
    def _tuned_params(self) -> dict[str, Any] | None:
        path = self.registry.tuned_params_path
        if not path.exists():
            return None
        try:
            params = json.loads(path.read_bytes())["params"]
            if not isinstance(params, dict):
                raise ValueError("'params' is not an object")
            return params
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            message = (
                f"{path.name} is unreadable ({error}); the configured hyperparameters are used"
            )
            with suppress(OSError):  # called with the writer's lock held
                self.registry.quarantine(path)
            logger.warning(message)
            self.alerts.send("Store Repaired", ERROR, message)
            return None

    def _save_tuned_params(self, params: dict[str, Any]) -> None:
        atomic_write_json(
            self.registry.tuned_params_path,
            {"tuned_at": self.clock().isoformat(), "params": params},
        )

    # -- rollback -------------------------------------------------------------------------------
    def rollback(
        self,
        version: str | None = None,
        *,
        expected_version: str | None = None,
        reason: str = "manual rollback",
    ) -> RollbackResult:
        """Backup (or ``version``) back into production. Raises AlreadyRunning, StoreError."""
        with self.registry.writing() as session:
            result = self.registry.rollback(
                session, version, expected_version=expected_version, reason=reason
            )
        logger.info(
            "rolled back from %s to %s: %s", result.previous_version, result.version, reason
        )
        metrics = self.registry.production_metrics()
        for listener in self.on_rollback:
            _call(listener, result, metrics)
        self.alerts.deliver(rollback_alert(result, reason, self.paths))
        return result


def data_record(market: MarketData) -> DataRecord:
    return DataRecord(
        provider=market.source.provider,
        folder=market.source.folder,
        tickers=market.tickers,
        fingerprint=market.fingerprint(),
        last_date=str(market.last_date) if market.last_date is not None else None,
    )


def findings_that_matter(market: MarketData, limit: int = 100) -> list[FindingRecord]:
    """Findings that changed the run: whatever was skipped, and stale data."""
    return [
        FindingRecord(source=f.source, problem=f.problem, detail=f.detail, action=f.action)
        for f in market.report.findings
        if f.action.endswith("skipped") or f.problem == "stale"
    ][:limit]


def _call(listener: Callable[..., None], *args: Any) -> None:
    try:
        listener(*args)
    except Exception:  # a listener (metrics, a cache) must never fail a run
        logger.exception("listener %s failed", listener)
