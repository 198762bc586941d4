"""The web dashboard: server-rendered pages at ``/`` beside the API, static files at ``/static``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files (CSS, JS, vendored htmx and uPlot)."""
    from .routes import STATIC, router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
