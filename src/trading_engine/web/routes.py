"""The dashboard's pages: thin routes that render ``views`` with Jinja2 templates.

Pages are plain HTML tables first (they read fine with JavaScript off); htmx polls a running
job's panel and the charts are drawn by uPlot, both vendored under ``static/vendor``. Actions
call the API's own endpoints from the browser (``static/dashboard.js``), so they pass the same
token check and cross-site guard as any other client. Each page says how long the server took
in a ``Server-Timing`` header.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from ..api.deps import ServiceDep
from . import replays, views

if TYPE_CHECKING:
    from ..model_retraining import ModelRetrainingService

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def when(value: str | None) -> str:
    """An ISO time as ``2026-11-24 21:00:17 UTC`` (its own offset kept); dates unchanged."""
    parsed = views.parse_time(value) if value and len(value) > 10 else None
    if parsed is None:
        return value or "–"
    zone = parsed.strftime("%Z") or parsed.strftime("%z")
    return f"{parsed:%Y-%m-%d %H:%M:%S} {zone}".strip()


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "–"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}" if value == value else "–"
    return str(value)


templates.env.filters["when"] = when
templates.env.filters["number"] = number
templates.env.globals["metric_rows"] = views.metric_rows
templates.env.globals["OUTCOMES"] = views.OUTCOMES


def page(
    request: Request,
    service: ModelRetrainingService,
    template: str,
    started: float,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the layout's context; time the whole request's work."""
    settings = request.app.state.settings
    response = templates.TemplateResponse(
        request,
        template,
        {
            "token_required": settings.server.api_token is not None,
            "production_version": service.registry.pointers().get("production"),
            "rendered_at": service.clock().astimezone().isoformat(timespec="seconds"),
            **context,
        },
        status_code=status_code,
    )
    timed(response, started)
    return response


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    return page(
        request, service, "overview.html", started, nav="overview", view=views.overview(service)
    )


@router.get("/timeline", response_class=HTMLResponse)
def timeline_page(request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    return page(
        request, service, "timeline.html", started, nav="timeline", view=views.timeline(service)
    )


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    outcome: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    chosen = outcome if outcome in views.OUTCOMES else None
    view = views.runs_page(service, offset=offset, outcome=chosen)
    return page(request, service, "runs.html", started, nav="runs", view=view)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    record = views.run(service, run_id)
    if record is None:
        return page(
            request,
            service,
            "missing.html",
            started,
            404,
            nav="runs",
            what=f"no run {run_id[:60]!r}",
        )
    return page(request, service, "run.html", started, nav="runs", run=record)


@router.get("/versions/{version}", response_class=HTMLResponse)
def version_page(version: str, request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    view = views.version(service, version)
    if view is None:
        return page(
            request,
            service,
            "missing.html",
            started,
            404,
            nav="timeline",
            what=f"no stored version {version[:60]!r}",
        )
    return page(request, service, "version.html", started, nav="timeline", view=view)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    view = views.monitoring(service)
    return page(request, service, "monitoring.html", started, nav="monitoring", view=view)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    return page(request, service, "alerts.html", started, nav="alerts", view=views.alerts(service))


@router.get("/replay", response_class=HTMLResponse)
def replay_page(request: Request, service: ServiceDep) -> HTMLResponse:
    started = time.perf_counter()
    folder = service.settings.paths.replay_dir
    found = replays.reports(folder)
    return page(
        request, service, "replay.html", started, nav="replay", reports=found, folder=folder
    )


@router.get("/replay/{key}/{name}")
def replay_file(key: str, name: str, service: ServiceDep) -> FileResponse:
    """A report's charts, its HTML report and its summary; nothing else from the folder."""
    path = replays.served_file(service.settings.paths.replay_dir, key, name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no replay file {key[:60]!r}/{name[:60]!r}")
    return FileResponse(path, media_type=replays.SERVED[name])


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
def job_panel(job_id: str, request: Request, service: ServiceDep) -> HTMLResponse:
    """A job's panel, polled by htmx every second until the job ends."""
    started = time.perf_counter()
    view = views.job(service, job_id)
    response = templates.TemplateResponse(request, "_job.html", {"view": view, "job_id": job_id})
    timed(response, started)
    return response


def timed(response: HTMLResponse, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
