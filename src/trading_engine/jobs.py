"""Background job states, persisted so a caller can ask later how a job ended."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from .storage import atomic_write_json

STATES = ("queued", "running", "succeeded", "rejected", "failed")
KEEP = 500  # newest jobs kept in jobs.json


class JobStore:
    """``models/jobs.json``: job id -> state, reason, times, version. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError:
            return {}

    def new_id(self, now: datetime) -> str:
        base = f"retrain_{int(now.timestamp())}"
        jobs = self._read()
        candidate, suffix = base, 1
        while candidate in jobs:
            suffix += 1
            candidate = f"{base}_{suffix}"
        return candidate

    def update(self, job_id: str, **fields: Any) -> dict[str, Any]:
        if "status" in fields and fields["status"] not in STATES:
            raise ValueError(f"unknown job status {fields['status']!r}")
        with self._lock:
            jobs = self._read()
            job = jobs.setdefault(job_id, {"job_id": job_id})
            job.update(fields)
            if len(jobs) > KEEP:
                for old in sorted(jobs, key=lambda j: jobs[j].get("created_at", ""))[:-KEEP]:
                    del jobs[old]
            atomic_write_json(self.path, jobs)
            return dict(job)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self._read().get(job_id)
