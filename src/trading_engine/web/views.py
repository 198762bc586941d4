"""What each dashboard page shows, read from the service the API uses (no HTTP here).

Each function takes the ``ModelRetrainingService`` and returns a typed view: the store's own
records (``RunRecord``, ``Deployment``, ``Job``...) plus what a page derives from them (a
model's age, which version was live when, how far behind the data is). The routes in
``routes.py`` only pick a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TradingEngineError
from ..records import (
    METRIC_KEYS,
    DataRecord,
    Deployment,
    GateResult,
    GateVerdict,
    Job,
    RunRecord,
    VersionInfo,
)
from .alerts_log import AlertEntry, read_alerts

if TYPE_CHECKING:
    from ..model_retraining import ModelRetrainingService

OUTCOMES = ("deployed", "rejected", "failed", "skipped", "interrupted", "running")
RUNS_PER_PAGE = 20


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def describe_age(seconds: float) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``40 s``: the two largest units."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def business_days_between(earlier: str | None, later: date) -> int | None:
    if not earlier:
        return None
    try:
        return int(np.busday_count(np.datetime64(earlier[:10], "D"), np.datetime64(later, "D")))
    except ValueError:
        return None


@dataclass(frozen=True)
class Health:
    model_loaded: bool
    production_version: str | None
    scheduler_running: bool
    retraining: bool
    problem: str | None

    @property
    def status(self) -> str:
        return "ok" if self.model_loaded else "degraded"


@dataclass(frozen=True)
class Freshness:
    """How far the data behind production, and behind the last run, lags today."""

    today: str
    production_last_date: str | None
    production_behind: int | None
    run_last_date: str | None
    run_behind: int | None
    stale_days: int

    @property
    def stale(self) -> bool:
        behind = self.run_behind if self.run_behind is not None else self.production_behind
        return behind is not None and behind > self.stale_days


@dataclass(frozen=True)
class Scheduled:
    name: str
    next_run: str | None
    trigger: str


@dataclass(frozen=True)
class ProductionCard:
    version: str
    created_at: str | None
    age: str | None
    train_start: str | None
    train_end: str | None
    horizon: int | None
    forced: bool
    data: DataRecord | None
    metrics: dict[str, Any]
    gates: list[GateResult]
    run_id: str | None
    backup_version: str | None


@dataclass(frozen=True)
class Overview:
    production: ProductionCard | None
    health: Health
    schedule: list[Scheduled]
    catch_up: str | None
    last_run: RunRecord | None
    freshness: Freshness
    rollback_choices: list[tuple[str, str | None]]  # (version, role), production left out
    realised: RealisedCard | None = None  # production's realised metrics, from monitoring


def health(service: ModelRetrainingService) -> Health:
    """As ``GET /health`` answers, plus whether a writer holds the lock."""
    try:
        stored, problem = service.production_model(), None
    except TradingEngineError as error:
        stored, problem = None, str(error)
    return Health(
        model_loaded=stored is not None,
        production_version=stored.version if stored else None,
        scheduler_running=service.scheduler_running,
        retraining=service.is_running,
        problem=problem,
    )


def schedule(service: ModelRetrainingService) -> tuple[list[Scheduled], str | None]:
    """The scheduler's own jobs when it runs; else when the settings say it would run."""
    running = service.scheduler.get_jobs() if service.scheduler_running else []
    if running:
        jobs = [Scheduled(j.name, _iso(j.next_run_time), str(j.trigger)) for j in running]
    else:
        daily, weekly = service.triggers()
        now = service.clock().astimezone()
        jobs = [
            Scheduled(name, _iso(trigger.get_next_fire_time(None, now)), str(trigger))
            for name, trigger in (("Daily retrain", daily), ("Weekly full retrain", weekly))
        ]
    jobs.sort(key=lambda job: job.next_run or "~")
    return jobs, service.missed_run()


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def production_card(service: ModelRetrainingService, now: datetime) -> ProductionCard | None:
    """The model serving now, described from its own metadata (as ``/api/ml/model/info``)."""
    try:
        stored = service.production_model()
    except TradingEngineError:
        return None
    if stored is None:
        return None
    metadata = stored.metadata
    created = parse_time(metadata.get("created_at"))
    gates = GateVerdict.model_validate(metadata.get("gate_report") or {"passed": True})
    source = metadata.get("data_source")
    return ProductionCard(
        version=stored.version,
        created_at=metadata.get("created_at"),
        age=describe_age((now - created).total_seconds()) if created else None,
        train_start=stored.model.train_start,
        train_end=stored.model.train_end,
        horizon=stored.model.horizon,
        forced=bool(metadata.get("forced", False)),
        data=DataRecord.model_validate(source) if source else None,
        metrics=dict(stored.model.metrics),
        gates=list(gates.gates),
        run_id=metadata.get("run_id"),
        backup_version=service.registry.pointers().get("backup"),
    )


def freshness(
    service: ModelRetrainingService, card: ProductionCard | None, last: RunRecord | None
) -> Freshness:
    today = service.clock().date()
    production_last = card.data.last_date if card and card.data else None
    run_last = last.data.last_date if last and last.data else None
    return Freshness(
        today=today.isoformat(),
        production_last_date=production_last,
        production_behind=business_days_between(production_last, today),
        run_last_date=run_last,
        run_behind=business_days_between(run_last, today),
        stale_days=service.settings.data.stale_days,
    )


def overview(service: ModelRetrainingService) -> Overview:
    now = service.clock()
    card = production_card(service, now)
    last = service.registry.last_run()
    jobs, catch_up = schedule(service)
    return Overview(
        production=card,
        health=health(service),
        schedule=jobs,
        catch_up=catch_up,
        last_run=last,
        freshness=freshness(service, card, last),
        rollback_choices=rollback_choices(service),
        realised=realised_card(service, card.version) if card else None,
    )


def rollback_choices(service: ModelRetrainingService) -> list[tuple[str, str | None]]:
    """Every stored version but production, newest first, with its role. Not verified here
    (reading and hashing 30 model files would cost more than the rest of the page): a
    rollback verifies the bytes it moves and says so when they do not."""
    if not service.registry.ensure():
        return []
    roles = {version: role for role, version in service.registry.pointers().items()}
    return [
        (row.version, roles.get(row.version))
        for row in service.registry.db.versions()
        if roles.get(row.version) != "production"
    ]


# -- timeline ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveSpan:
    """One version in production from ``start`` until ``end`` (None: still live)."""

    version: str
    start: str
    end: str | None
    event: Deployment

    @property
    def label(self) -> str:
        if self.event.kind == "rollback":
            return "rollback"
        return "forced deploy" if self.event.forced else "deploy"


@dataclass(frozen=True)
class Timeline:
    spans: list[LiveSpan]  # newest first
    versions: list[str]  # every version that was ever live, oldest first
    chart: dict[str, Any]  # uPlot's data and labels, for the page's script
    now: str


def timeline(service: ModelRetrainingService) -> Timeline:
    """Which model was live on each date: every deploy and rollback, in order."""
    events = service.registry.deployments()
    now = service.clock()
    spans = [
        LiveSpan(
            version=event.to_version,
            start=event.at,
            end=events[i + 1].at if i + 1 < len(events) else None,
            event=event,
        )
        for i, event in enumerate(events)
    ]
    ever_live = sorted({event.to_version for event in events})
    level = {version: index for index, version in enumerate(ever_live)}
    times, levels, kinds = [], [], []
    for event in events:
        at = parse_time(event.at)
        if at is None:
            continue
        times.append(round(at.timestamp(), 3))
        levels.append(level[event.to_version])
        kinds.append(
            "rollback" if event.kind == "rollback" else "forced" if event.forced else "deploy"
        )
    if times:  # the live version carries on until now
        times.append(round(max(now.timestamp(), times[-1]), 3))
        levels.append(levels[-1])
        kinds.append("now")
    chart = {"times": times, "levels": levels, "kinds": kinds, "versions": ever_live}
    return Timeline(spans=spans[::-1], versions=ever_live, chart=chart, now=now.isoformat())


# -- runs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunsPage:
    total: int
    limit: int
    offset: int
    outcome: str | None
    runs: list[RunRecord]
    counts: dict[str, int]
    chart: dict[str, Any]

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def first(self) -> int:
        return self.offset + 1 if self.runs else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.runs)


def runs_page(
    service: ModelRetrainingService,
    *,
    offset: int = 0,
    outcome: str | None = None,
    limit: int = RUNS_PER_PAGE,
) -> RunsPage:
    """One page of the history, newest first, as ``GET /api/ml/retraining/history``."""
    total, runs = service.registry.history(limit, offset, outcome)
    counts = {name: service.registry.history(1, 0, name)[0] for name in OUTCOMES}
    scored = [(run, run.metrics, parse_time(run.started_at)) for run in reversed(runs)]
    points = [(run, metrics, at) for run, metrics, at in scored if metrics and at]
    chart = {
        "times": [round(at.timestamp(), 3) for _, _, at in points],
        "roc_auc": [metrics.roc_auc for _, metrics, _ in points],
        "accuracy": [metrics.accuracy for _, metrics, _ in points],
        "f1_score": [metrics.f1_score for _, metrics, _ in points],
        "runs": [run.run_id for run, _, _ in points],
    }
    return RunsPage(total, limit, offset, outcome, runs, counts, chart)


def run(service: ModelRetrainingService, run_id: str) -> RunRecord | None:
    return service.registry.db.run(run_id) if service.registry.ensure() else None


# -- a version ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionView:
    info: VersionInfo
    metadata: dict[str, Any]
    gates: list[GateResult]
    run: RunRecord | None
    events: list[Deployment]  # the deploys and rollbacks that made it production
    production_version: str | None


def version(service: ModelRetrainingService, version_id: str) -> VersionView | None:
    info = service.registry.version_info(version_id)
    if info is None:
        return None
    metadata = service.registry.version_metadata(version_id) or {}
    gates = GateVerdict.model_validate(metadata.get("gate_report") or {"passed": True})
    run_id = metadata.get("run_id")
    return VersionView(
        info=info,
        metadata=metadata,
        gates=list(gates.gates),
        run=run(service, run_id) if run_id else None,
        events=[e for e in service.registry.deployments() if e.to_version == version_id],
        production_version=service.registry.pointers().get("production"),
    )


# -- alerts and jobs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertsPage:
    entries: list[AlertEntry]
    path: str
    truncated: bool = False
    shown: int = field(default=0)


def alerts(service: ModelRetrainingService, limit: int = 200) -> AlertsPage:
    """``models/alerts.log``, newest first."""
    path = service.registry.models_dir / "alerts.log"
    entries, truncated = read_alerts(path, limit)
    return AlertsPage(entries, str(path), truncated, len(entries))


@dataclass(frozen=True)
class JobView:
    job: Job
    run: RunRecord | None
    elapsed: str | None

    @property
    def final(self) -> bool:
        return self.job.status not in ("queued", "running")


def job(service: ModelRetrainingService, job_id: str) -> JobView | None:
    found = service.get_job(job_id)
    if found is None:
        return None
    started = parse_time(found.started_at or found.created_at)
    ended = parse_time(found.finished_at) or service.clock()
    elapsed = describe_age((ended - started).total_seconds()) if started else None
    run_record = service.registry.db.run_of_job(job_id) if found.finished_at else None
    return JobView(found, run_record, elapsed)


def metric_rows(metrics: Any) -> list[tuple[str, Any]]:
    """The seed's metrics in the seed's order, from a dict or a ``HoldoutMetrics``."""
    values = metrics if isinstance(metrics, dict) else metrics.model_dump()
    return [(key, values.get(key)) for key in METRIC_KEYS if values.get(key) is not None]


# -- monitoring --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringView:
    """``GET /api/ml/monitoring``'s answer (the same function builds it), arranged for a page."""

    report: dict[str, Any]
    chart: dict[str, Any]  # uPlot's data: as-of dates (epoch seconds), daily accuracy and AUC

    @property
    def has_auc(self) -> bool:
        return any(v is not None for k in ("production_auc", "shadow_auc") for v in self.chart[k])

    @property
    def empty(self) -> bool:
        return bool(self.report.get("empty"))

    @property
    def has_report(self) -> bool:
        return self.report.get("snapshot_at") is not None

    @property
    def windows(self) -> list[tuple[str, dict[str, Any]]]:
        return sorted((self.report.get("windows") or {}).items(), key=lambda item: int(item[0]))

    @property
    def versions(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(version, role now, realised), production first, then the shadow, then the rest."""
        roles = {
            self.report.get("production_version"): "production",
            self.report.get("shadow_version"): "shadow",
        }
        order = {"production": 0, "shadow": 1}
        found = [
            (version, roles.get(version), figures)
            for version, figures in (self.report.get("by_version") or {}).items()
        ]
        found.sort(key=lambda row: (order.get(row[1] or "", 2), row[0]))
        return found


SERIES_KEYS = ("production_accuracy", "shadow_accuracy", "production_auc", "shadow_auc")


def monitoring_chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored report's daily series as uPlot columns (dates at 00:00 UTC)."""
    columns: dict[str, list[Any]] = {"times": [], **{key: [] for key in SERIES_KEYS}}
    for point in series:
        try:
            day = datetime.fromisoformat(point["as_of"]).replace(tzinfo=UTC)
        except (KeyError, TypeError, ValueError):
            continue
        columns["times"].append(int(day.timestamp()))
        for key in SERIES_KEYS:
            columns[key].append(point.get(key))  # None: no figure that day (or an older report)
    return columns


def monitoring(service: ModelRetrainingService) -> MonitoringView:
    """The report the last monitoring job stored, with live counts and the monitor's events:
    ``monitoring_payload``, exactly what the API and ``monitor --json`` answer."""
    from ..monitoring.report import monitoring_payload

    report = monitoring_payload(service)
    return MonitoringView(report=report, chart=monitoring_chart(report.get("series") or []))


@dataclass(frozen=True)
class RealisedCard:
    """Production's realised metrics from the stored monitoring report, beside its claim."""

    version: str
    at: str | None  # when the report was made
    figures: dict[str, Any] | None  # realised(): rows, accuracy, roc_auc...; None: not scored

    @property
    def scored(self) -> bool:
        return bool(self.figures and self.figures.get("rows"))


def realised_card(service: ModelRetrainingService, version: str) -> RealisedCard:
    snapshot = service.monitoring_snapshot() or {}
    figures = (snapshot.get("by_version") or {}).get(version)
    return RealisedCard(version=version, at=snapshot.get("at"), figures=figures)
