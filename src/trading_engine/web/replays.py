"""The replay reports the dashboard shows: ``replay --out`` folders in ``paths.replay_dir``.

A report is a folder holding the ``summary.json`` that ``service/replay_report.py`` writes,
beside its PNG charts and self-contained ``report.html``: the replay folder itself, or any
folder directly inside it. Only those files are ever served from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVED = {
    "rolling_accuracy.png": "image/png",
    "rolling_auc.png": "image/png",
    "model_age.png": "image/png",
    "report.html": "text/html",
    "summary.json": "application/json",
}
CHARTS = (
    ("rolling_accuracy.png", "Rolling realised accuracy"),
    ("rolling_auc.png", "Rolling realised AUC"),
    ("model_age.png", "Age of the live model"),
)


@dataclass(frozen=True)
class ReplayReport:
    key: str  # the folder's name: the report's address under /replay/
    folder: Path
    summary: dict[str, Any]
    problem: str | None = None

    @property
    def charts(self) -> list[tuple[str, str]]:
        return [(name, title) for name, title in CHARTS if (self.folder / name).is_file()]

    @property
    def has_report(self) -> bool:
        return (self.folder / "report.html").is_file()


def report_folders(replay_dir: Path) -> dict[str, Path]:
    """Every folder holding a ``summary.json``, newest first, by key."""
    if not replay_dir.is_dir():
        return {}
    candidates = [replay_dir, *sorted(p for p in replay_dir.iterdir() if p.is_dir())]
    found = [c for c in candidates if (c / "summary.json").is_file()]
    found.sort(key=lambda c: (c / "summary.json").stat().st_mtime, reverse=True)
    return {folder.name: folder for folder in found}


def read_report(key: str, folder: Path) -> ReplayReport:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        return ReplayReport(key, folder, {}, f"summary.json is unreadable: {error}")
    return ReplayReport(key, folder, summary)


def reports(replay_dir: Path) -> list[ReplayReport]:
    return [read_report(key, folder) for key, folder in report_folders(replay_dir).items()]


def served_file(replay_dir: Path, key: str, name: str) -> Path | None:
    """The file ``name`` of report ``key``, when it is one of the files a report serves."""
    folder = report_folders(replay_dir).get(key)
    if folder is None or name not in SERVED:
        return None
    path = folder / name
    return path if path.is_file() else None
