"""The store of record: one SQLite file, ``models/registry.sqlite`` (WAL, synchronous FULL).

It holds the runs, the deployment timeline, the jobs, the known model versions with their
checksums, the production/backup pointers, the writer's lease and (schema 2) the monitoring
tables: the prediction log, the monitoring events and snapshots (see ``predictions.py``).
A deploy or a rollback is one transaction: the commit is the moment it happened. Every other
file in ``models/`` is derived from these tables (see ``registry.py``).

Each call opens its own connection (cheap, and safe from any thread); a read-only folder falls
back to an immutable read so status and history still answer.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import UNAVAILABLE_ERRNOS, AlreadyRunning, StoreUnavailable
from ..records import Deployment, Job, RunRecord

SCHEMA_VERSION = "2"  # 2: the monitoring tables; `upgrade` adds them to a version-1 store
# One row per (version, ticker, as-of date, source): logging the same prediction twice (the
# daily job, then a client asking) keeps the first. `up` is the outcome, filled when
# close[as_of + horizon] is known; backfilled rows (source 'backfill') never mix with live ones.
MONITORING_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    version TEXT NOT NULL,
    ticker TEXT NOT NULL,
    as_of TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('live', 'backfill')),
    role TEXT NOT NULL CHECK (role IN ('production', 'shadow')),
    horizon INTEGER NOT NULL,
    probability REAL NOT NULL,
    origin TEXT NOT NULL,
    logged_at TEXT NOT NULL,
    up INTEGER,
    PRIMARY KEY (version, ticker, as_of, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS predictions_pending ON predictions(source, up, as_of);
CREATE INDEX IF NOT EXISTS predictions_day ON predictions(source, as_of);
CREATE INDEX IF NOT EXISTS predictions_row ON predictions(ticker, as_of, horizon);
CREATE TABLE IF NOT EXISTS monitor_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_events_kind ON monitor_events(kind, day);
CREATE TABLE IF NOT EXISTS monitor_snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    body TEXT NOT NULL
);
"""
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    version TEXT PRIMARY KEY,
    file_sha256 TEXT NOT NULL,
    created_at TEXT,
    metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pointers (
    role TEXT PRIMARY KEY CHECK (role IN ('production', 'backup')),
    version TEXT NOT NULL REFERENCES versions(version)
);
CREATE TABLE IF NOT EXISTS deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    to_version TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    owner TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_outcome ON runs(outcome);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    since TEXT NOT NULL
);
"""
    + MONITORING_SCHEMA
)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a live process from a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def this_process() -> str:
    return f"{os.getpid()}:{_process_start(os.getpid())}"


def is_alive(owner: str | None) -> bool:
    if not owner:
        return False
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if Path("/proc/self/stat").exists():
        return _process_start(pid) == started
    try:  # no /proc: the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


ACTIVE_LEASES: set[str] = set()  # tokens of the leases this process holds now


def lease_is_live(owner: str) -> bool:
    process, _, token = owner.rpartition(":")
    if process == this_process():
        return token in ACTIVE_LEASES
    return is_alive(process)


@dataclass(frozen=True)
class VersionRow:
    version: str
    file_sha256: str
    created_at: str | None
    metadata: dict


class Database:
    """Typed reads and writes of the store of record."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- connections ----------------------------------------------------------------------
    def _connect(self, *, immutable: bool = False) -> sqlite3.Connection:
        if immutable:
            uri = f"file:{self.path}?mode=ro&immutable=1"
            return sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            connection.execute("PRAGMA synchronous = FULL")
        except BaseException:
            connection.close()  # never leave a file open behind an error (disk full, corrupt)
            raise
        return connection

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        # A WAL reader must create the -shm file. In a read-only folder, or on a full disk, it
        # cannot: then read the file as it is (nobody can be committing to it either way).
        immutable = not os.access(self.path.parent, os.W_OK)
        connection = None
        try:
            connection = self._connect(immutable=immutable)
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error as error:
            if connection is not None:
                connection.close()
            if is_corrupt(error):
                raise  # the caller quarantines the file
            try:
                connection = self._connect(immutable=True)
            except sqlite3.Error:
                raise _unavailable(self.path, error, "read") from None
        try:
            yield connection
        except sqlite3.OperationalError as error:
            raise _unavailable(self.path, error, "read") from None
        finally:
            connection.close()

    def reading(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection to read with (WAL; immutable in a read-only folder)."""
        return self._reading()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write: everything inside commits together or not at all."""
        try:
            connection = self._connect()
        except sqlite3.OperationalError as error:
            raise _unavailable(self.path, error) from None
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            connection.close()
            raise _unavailable(self.path, error) from None
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as error:
            with suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError):
                raise _unavailable(self.path, error) from None
            raise
        finally:
            connection.close()

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> None:
        """Create the tables (idempotent); WAL is a property of the file, set once."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._connect()
        except (OSError, sqlite3.Error) as error:
            raise _unavailable(self.path, error) from None
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        except sqlite3.OperationalError as error:
            raise _unavailable(self.path, error) from None
        finally:
            connection.close()

    def upgrade(self) -> bool:
        """Bring an older store to ``SCHEMA_VERSION`` (new tables only); True when it did."""
        if self.get_meta("schema_version") == SCHEMA_VERSION:
            return False
        with self.transaction() as connection:
            for statement in MONITORING_SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            self.set_meta(connection, "schema_version", SCHEMA_VERSION)
        return True

    def has_table(self, name: str) -> bool:
        with self._reading() as connection:
            row = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        return row is not None

    def check(self) -> None:
        """Raise ``sqlite3.DatabaseError`` when the file is not a readable store."""
        with self._reading() as connection:
            connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            connection.execute("SELECT count(*) FROM runs").fetchone()

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._reading() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def set_meta(connection: sqlite3.Connection, key: str, value: str) -> None:
        connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- versions and pointers ------------------------------------------------------------
    def pointers(self) -> dict[str, str]:
        with self._reading() as connection:
            return dict(connection.execute("SELECT role, version FROM pointers").fetchall())

    def version(self, version: str) -> VersionRow | None:
        with self._reading() as connection:
            row = connection.execute(
                "SELECT version, file_sha256, created_at, metadata FROM versions WHERE version = ?",
                (version,),
            ).fetchone()
        return _version_row(row) if row else None

    def versions(self) -> list[VersionRow]:
        """Every known version, newest first."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT version, file_sha256, created_at, metadata FROM versions "
                "ORDER BY version DESC"
            ).fetchall()
        return [_version_row(row) for row in rows]

    def version_names(self, skip: int = 0) -> list[str]:
        """Version names newest first, less the newest ``skip``; no metadata is parsed (a
        replay's store holds every version it deployed, and this runs at each deploy)."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT version FROM versions ORDER BY version DESC LIMIT -1 OFFSET ?", (skip,)
            ).fetchall()
        return [version for (version,) in rows]

    def has_digest(self, digest: str) -> bool:
        """Whether some recorded version's file has this SHA-256."""
        with self._reading() as connection:
            found = connection.execute(
                "SELECT 1 FROM versions WHERE file_sha256 = ? LIMIT 1", (digest,)
            ).fetchone()
        return found is not None

    @staticmethod
    def add_version(connection: sqlite3.Connection, row: VersionRow) -> None:
        connection.execute(
            "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?)",
            (row.version, row.file_sha256, row.created_at, json.dumps(row.metadata, default=str)),
        )

    @staticmethod
    def remove_version(connection: sqlite3.Connection, version: str) -> None:
        connection.execute("DELETE FROM versions WHERE version = ?", (version,))

    @staticmethod
    def set_pointer(connection: sqlite3.Connection, role: str, version: str | None) -> None:
        if version is None:
            connection.execute("DELETE FROM pointers WHERE role = ?", (role,))
        else:
            connection.execute("INSERT OR REPLACE INTO pointers VALUES (?, ?)", (role, version))

    # -- deployments ----------------------------------------------------------------------
    @staticmethod
    def add_deployment(connection: sqlite3.Connection, deployment: Deployment) -> None:
        connection.execute(
            "INSERT INTO deployments (at, to_version, body) VALUES (?, ?, ?)",
            (deployment.at, deployment.to_version, deployment.model_dump_json()),
        )

    def deployments(self, limit: int | None = None) -> list[Deployment]:
        """The deployment timeline, oldest first (the newest ``limit`` when given)."""
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT body FROM (SELECT seq, body FROM deployments ORDER BY seq DESC LIMIT ?) "
                "ORDER BY seq",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [Deployment.model_validate_json(body) for (body,) in rows]

    def count_deployments(self) -> int:
        with self._reading() as connection:
            return connection.execute("SELECT count(*) FROM deployments").fetchone()[0]

    # -- runs -------------------------------------------------------------------------------
    @staticmethod
    def put_run(connection: sqlite3.Connection, run: RunRecord, owner: str | None) -> None:
        connection.execute(
            "INSERT INTO runs (run_id, started_at, outcome, owner, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(run_id) DO UPDATE SET outcome = excluded.outcome, body = excluded.body",
            (run.run_id, run.started_at, run.outcome, owner, run.model_dump_json()),
        )

    def runs(
        self, limit: int, offset: int = 0, outcome: str | None = None, since: str | None = None
    ) -> list[RunRecord]:
        """Runs newest first, one page: never parses more than the page. ``since``: only runs
        started at or after that ISO time."""
        conditions, parameters = [], []
        if outcome:
            conditions.append("outcome = ?")
            parameters.append(outcome)
        if since is not None:
            conditions.append("started_at >= ?")
            parameters.append(since)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT body, owner FROM runs {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*parameters, limit, offset),
            ).fetchall()
        return [_as_seen(RunRecord.model_validate_json(body), owner) for body, owner in rows]

    def count_runs(self, outcome: str | None = None) -> int:
        where, parameters = ("WHERE outcome = ?", (outcome,)) if outcome else ("", ())
        with self._reading() as connection:
            return connection.execute(f"SELECT count(*) FROM runs {where}", parameters).fetchone()[
                0
            ]

    def run(self, run_id: str) -> RunRecord | None:
        with self._reading() as connection:
            row = connection.execute("SELECT body FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    def run_of_job(self, job_id: str) -> RunRecord | None:
        with self._reading() as connection:
            row = connection.execute(
                "SELECT body FROM runs WHERE json_extract(body, '$.job_id') = ? "
                "ORDER BY seq DESC LIMIT 1",
                (job_id,),
            ).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    def unfinished_runs(self) -> list[tuple[RunRecord, str | None]]:
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT body, owner FROM runs WHERE outcome = 'running' ORDER BY seq"
            ).fetchall()
        return [(RunRecord.model_validate_json(body), owner) for body, owner in rows]

    def last_run_started(self, outcomes: Sequence[str] | None = None) -> str | None:
        with self._reading() as connection:
            if outcomes:
                marks = ", ".join("?" * len(outcomes))
                row = connection.execute(
                    f"SELECT max(started_at) FROM runs WHERE outcome IN ({marks})",
                    tuple(outcomes),
                ).fetchone()
            else:
                row = connection.execute("SELECT max(started_at) FROM runs").fetchone()
        return row[0] if row else None

    # -- jobs ---------------------------------------------------------------------------------
    @staticmethod
    def put_job(connection: sqlite3.Connection, job: Job, owner: str | None) -> None:
        connection.execute(
            "INSERT INTO jobs (job_id, created_at, status, owner, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status = excluded.status, body = excluded.body",
            (job.job_id, job.created_at, job.status, owner, job.model_dump_json()),
        )

    def job(self, job_id: str) -> Job | None:
        with self._reading() as connection:
            row = connection.execute("SELECT body FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return Job.model_validate_json(row[0]) if row else None

    def unfinished_jobs(self) -> list[tuple[Job, str | None]]:
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT body, owner FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
        return [(Job.model_validate_json(body), owner) for body, owner in rows]

    def job_ids_like(self, prefix: str) -> set[str]:
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT job_id FROM jobs WHERE job_id LIKE ?", (prefix + "%",)
            ).fetchall()
        return {job_id for (job_id,) in rows}

    # -- the writer's lease -------------------------------------------------------------------
    def take_lease(self, owner: str, since: str, busy_message: str) -> None:
        """Second guard behind the lock file: refuse while a live holder has the lease.

        Deleting ``models/.lock`` during a retrain would otherwise let a second writer in.
        ``owner`` is ``pid:start:token``; a lease of this process is live while its token is.
        """
        with self.transaction() as connection:
            row = connection.execute("SELECT owner FROM lease WHERE id = 1").fetchone()
            if row and lease_is_live(row[0]):
                raise AlreadyRunning(busy_message)
            connection.execute("INSERT OR REPLACE INTO lease VALUES (1, ?, ?)", (owner, since))

    def drop_lease(self, owner: str) -> None:
        with self.transaction() as connection:
            connection.execute("DELETE FROM lease WHERE id = 1 AND owner = ?", (owner,))

    def lease_holder(self) -> str | None:
        """The live holder of the lease, if any."""
        with self._reading() as connection:
            row = connection.execute("SELECT owner FROM lease WHERE id = 1").fetchone()
        return row[0] if row and lease_is_live(row[0]) else None


DEAD_RUN = "the process running it stopped before it finished"


def _as_seen(run: RunRecord, owner: str | None) -> RunRecord:
    """A run whose process died reads as interrupted even before a writer records it so."""
    if run.outcome == "running" and not is_alive(owner):
        return run.model_copy(update={"outcome": "interrupted", "reason": DEAD_RUN})
    return run


def _version_row(row: tuple) -> VersionRow:
    return VersionRow(row[0], row[1], row[2], json.loads(row[3]))


# SQLite's primary result codes that mean "this store cannot be written now".
_SQLITE_REASONS = {
    5: "another process holds the database (busy)",
    8: "the store is read-only",
    10: "a disk I/O error (the disk is full?)",
    13: "the disk is full",
    14: "the database file cannot be opened (permissions, or a read-only folder)",
}


def _unavailable(path: Path, error: BaseException, what: str = "write") -> StoreUnavailable:
    if isinstance(error, OSError) and error.errno in UNAVAILABLE_ERRNOS:
        text = error.strerror or str(error)
    elif isinstance(error, sqlite3.Error) and error.sqlite_errorcode is not None:
        text = _SQLITE_REASONS.get(error.sqlite_errorcode & 0xFF, str(error))
    else:
        text = str(error)
    return StoreUnavailable(f"cannot {what} {path}: {text}")


def is_corrupt(error: sqlite3.Error) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB: the file is not a usable database."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (11, 26)
