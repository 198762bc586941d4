"""The prediction log and the monitoring record, in the store of record (``registry.sqlite``).

Three tables (``database.MONITORING_SCHEMA``):

* ``predictions``: what a model said about a ticker on an as-of date, once per
  (version, ticker, as-of, source), with its outcome ``up`` once close[as_of + horizon] exists.
  ``role`` says whether the version was production or its shadow (the backup, scored on the
  same rows) when the row was logged; ``source`` keeps backfilled rows apart from live ones.
* ``monitor_events``: every policy action and alert (drift retrain, rollback, stale data...).
* ``monitor_snapshots``: the monitoring report the daily job computed, read by ``monitor``
  and ``GET /api/ml/monitoring`` without recomputing anything.

Each write is one transaction (WAL, synchronous FULL): a process killed mid-write leaves the
log as it was before the write or after it, never half a day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .database import Database

Source = str  # "live" or "backfill"


@dataclass(frozen=True)
class LoggedPrediction:
    version: str
    ticker: str
    as_of: str  # ISO date of the bar the features came from
    role: str  # "production" or "shadow"
    horizon: int
    probability: float
    origin: str  # "scheduled", "deploy", "api", "cli", "backfill"


@dataclass(frozen=True)
class MonitorEvent:
    at: str
    day: str
    kind: str
    version: str | None
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "day": self.day,
            "kind": self.kind,
            "version": self.version,
            **self.body,
        }


class PredictionLog:
    """Typed reads and writes of the monitoring tables (no numpy: read commands stay light)."""

    EMPTY_COUNTS: dict[str, Any] = {  # noqa: RUF012 (read-only: copied before use)
        "live": 0,
        "backfill": 0,
        "with_outcome": 0,
        "pending": 0,
        "last_as_of": None,
    }

    def __init__(self, db: Database) -> None:
        self.db = db

    def ready(self) -> bool:
        return self.db.exists() and self.db.has_table("predictions")

    # -- predictions -------------------------------------------------------------------------
    def log(
        self, predictions: Iterable[LoggedPrediction], *, at: str, source: Source = "live"
    ) -> int:
        """Store predictions in one transaction; those already logged are kept as they were.

        Returns how many rows were new. A version logged as shadow that later serves as
        production (after a rollback) is marked production from then on.
        """
        rows = [
            (
                p.version,
                p.ticker,
                p.as_of,
                source,
                p.role,
                p.horizon,
                float(p.probability),
                p.origin,
                at,
            )
            for p in predictions
        ]
        if not rows:
            return 0
        with self.db.transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                "INSERT INTO predictions (version, ticker, as_of, source, role, horizon, "
                "probability, origin, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(version, ticker, as_of, source) DO UPDATE SET role = 'production' "
                "WHERE excluded.role = 'production' AND role = 'shadow'",
                rows,
            )
            return connection.total_changes - before

    def pending(self, source: Source = "live") -> list[tuple[str, str, int]]:
        """(ticker, as_of, horizon) of logged predictions still waiting for their outcome."""
        if not self.ready():
            return []
        with self.db.reading() as connection:
            return connection.execute(
                "SELECT DISTINCT ticker, as_of, horizon FROM predictions "
                "WHERE source = ? AND up IS NULL",
                (source,),
            ).fetchall()

    def set_outcomes(
        self, outcomes: Sequence[tuple[str, str, int, int]], source: Source = "live"
    ) -> int:
        """Record ``(ticker, as_of, horizon, up)`` for every version's prediction of that row."""
        if not outcomes:
            return 0
        with self.db.transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                "UPDATE predictions SET up = ? WHERE ticker = ? AND as_of = ? AND horizon = ? "
                "AND source = ? AND up IS NULL",
                [(up, ticker, as_of, horizon, source) for ticker, as_of, horizon, up in outcomes],
            )
            return connection.total_changes - before

    def rows(
        self,
        source: Source = "live",
        *,
        since: str | None = None,
        version: str | None = None,
        with_outcome: bool = True,
    ) -> list[tuple[str, str, str, str, float, int | None]]:
        """(version, role, ticker, as_of, probability, up), in no particular order."""
        if not self.ready():
            return []
        where = ["source = ?"]
        parameters: list[Any] = [source]
        if since:
            where.append("as_of >= ?")
            parameters.append(since)
        if version:
            where.append("version = ?")
            parameters.append(version)
        if with_outcome:
            where.append("up IS NOT NULL")
        with self.db.reading() as connection:
            return connection.execute(
                "SELECT version, role, ticker, as_of, probability, up FROM predictions "
                f"WHERE {' AND '.join(where)}",
                parameters,
            ).fetchall()

    def counts(self) -> dict[str, Any]:
        """How many predictions are logged, by source, and how many have their outcome."""
        if not self.ready():
            return dict(self.EMPTY_COUNTS)
        counts = dict(self.EMPTY_COUNTS)
        with self.db.reading() as connection:  # each an index range: no scan of the log
            for source in ("live", "backfill"):
                counts[source] = connection.execute(
                    "SELECT count(*) FROM predictions WHERE source = ?", (source,)
                ).fetchone()[0]
            counts["pending"] = connection.execute(
                "SELECT count(*) FROM predictions WHERE source = 'live' AND up IS NULL"
            ).fetchone()[0]
            counts["last_as_of"] = connection.execute(
                "SELECT max(as_of) FROM predictions WHERE source = 'live'"
            ).fetchone()[0]
        counts["with_outcome"] = counts["live"] - counts["pending"]
        return counts

    def versions(self) -> list[str]:
        if not self.ready():
            return []
        with self.db.reading() as connection:
            rows = connection.execute("SELECT DISTINCT version FROM predictions").fetchall()
        return sorted(version for (version,) in rows)

    # -- events and snapshots --------------------------------------------------------------
    def add_event(self, event: MonitorEvent) -> None:
        with self.db.transaction() as connection:
            connection.execute(
                "INSERT INTO monitor_events (at, day, kind, version, body) VALUES (?, ?, ?, ?, ?)",
                (event.at, event.day, event.kind, event.version, json.dumps(event.body)),
            )

    def events(self, limit: int = 20, kind: str | None = None) -> list[MonitorEvent]:
        """Newest first."""
        if not self.ready():
            return []
        where, parameters = ("WHERE kind = ?", [kind]) if kind else ("", [])
        with self.db.reading() as connection:
            rows = connection.execute(
                f"SELECT at, day, kind, version, body FROM monitor_events {where} "
                "ORDER BY seq DESC LIMIT ?",
                (*parameters, limit),
            ).fetchall()
        return [
            MonitorEvent(at, day, kind, version, json.loads(body))
            for at, day, kind, version, body in rows
        ]

    def has_event(self, kind: str, *, day: str | None = None, version: str | None = None) -> bool:
        if not self.ready():
            return False
        where, parameters = ["kind = ?"], [kind]
        if day is not None:
            where.append("day = ?")
            parameters.append(day)
        if version is not None:
            where.append("version = ?")
            parameters.append(version)
        with self.db.reading() as connection:
            row = connection.execute(
                f"SELECT 1 FROM monitor_events WHERE {' AND '.join(where)} LIMIT 1", parameters
            ).fetchone()
        return row is not None

    def put_snapshot(self, at: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as connection:
            connection.execute(
                "INSERT INTO monitor_snapshots (at, body) VALUES (?, ?)",
                (at, json.dumps(body, default=str)),
            )
            # Keep a year of daily snapshots: the report is derived, the rows are the record.
            connection.execute(
                "DELETE FROM monitor_snapshots WHERE seq <= (SELECT max(seq) FROM "
                "monitor_snapshots) - 400"
            )

    def latest_snapshot(self) -> dict[str, Any] | None:
        if not self.ready():
            return None
        with self.db.reading() as connection:
            row = connection.execute(
                "SELECT body FROM monitor_snapshots ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return json.loads(row[0]) if row else None

    # -- the stale-data pause of scheduled retrains ------------------------------------------
    def paused_at(self) -> str | None:
        """The newest bar date scheduled retrains wait to see beaten, or None."""
        return self.db.get_meta("retrain_paused_at") if self.db.exists() else None

    def set_paused(self, newest_bar: str | None) -> None:
        with self.db.transaction() as connection:
            if newest_bar is None:
                connection.execute("DELETE FROM meta WHERE key = 'retrain_paused_at'")
            else:
                self.db.set_meta(connection, "retrain_paused_at", newest_bar)
