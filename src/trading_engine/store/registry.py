"""The model store: versions, production and backup, deploy, rollback, runs, jobs.

Layout (the seed's, plus the store of record)::

    models/
    ├── registry.sqlite                 the store of record (see database.py): the truth
    ├── prod_model.bin                  the production model          } derived from the store,
    ├── backup_model.bin                the model before it           } written atomically after
    ├── prod_model_20250119_020534.bin  every deployed version        } each commit and repaired
    ├── training_metrics.json           production metrics, history   } whenever the lock is
    │                                   tail, deployments              } taken
    ├── quarantine/                     corrupt files moved aside, never deleted
    └── alerts.log                      written by alerts.py

A deploy: write the version file, then ONE transaction (version row, production and backup
pointers, deployment, run record), then derive the files. A process killed before the commit
leaves an orphan version file (cleaned) and a ``running`` run (marked ``interrupted``); killed
after it, the next holder of the lock rolls the files forward from verified version files. Only
bytes whose SHA-256 matches the store move into ``prod_model.bin`` or ``backup_model.bin``.

The registry stores bytes and metadata; it never decodes a model (``training/model.py`` does).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import (
    AlreadyInProduction,
    CorruptModel,
    InvalidVersionId,
    NothingToRollBack,
    ProductionChanged,
    StoreUnavailable,
    VersionNotFound,
)
from ..records import (
    FINAL_JOB_STATUS,
    METRIC_KEYS,
    Deployment,
    Job,
    RollbackResult,
    RunRecord,
    VersionInfo,
)
from .container import Container, file_digest, unpack
from .database import (
    ACTIVE_LEASES,
    DEAD_RUN,
    SCHEMA_VERSION,
    Database,
    VersionRow,
    is_alive,
    is_corrupt,
    this_process,
)
from .files import atomic_write_bytes, fsync_directory, stale_temporaries
from .lock import WriterLock

logger = logging.getLogger(__name__)

VERSION_ID = re.compile(r"\d{8}_\d{6}(?:_\d+)?")
VERSION_FILE = re.compile(r"^prod_model_(\d{8}_\d{6}(?:_\d+)?)\.bin$")
ROLES = ("production", "backup")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Repair:
    """Something the store found wrong and fixed (or could not fix)."""

    message: str
    alert: bool = False  # worth a person's attention (corruption, lost data)


@dataclass(frozen=True)
class ModelBytes:
    """Verified bytes of one version and where they were read from."""

    version: str
    data: bytes
    source: Path

    def container(self) -> Container:
        return unpack(self.data, str(self.source))


class WriteSession:
    """Holding the one writer's lock (file lock and lease). ``release`` is idempotent."""

    def __init__(self, registry: ModelRegistry, lock: WriterLock, owner: str, token: str) -> None:
        self.registry = registry
        self._lock = lock
        self.owner = owner
        self._token = token

    def release(self) -> None:
        if not self._lock.held:
            return
        try:
            self.registry.db.drop_lease(self.owner)
        except StoreUnavailable as error:  # the token below makes the lease dead anyway
            logger.warning("could not clear the writer's lease: %s", error)
        finally:
            ACTIVE_LEASES.discard(self._token)
            self._lock.release()


class ModelRegistry:
    """Versions, production, backup and the record of every run, in one models folder."""

    def __init__(
        self,
        models_dir: Path,
        *,
        retention: int = 30,
        clock: Callable[[], datetime] = utc_now,
        history_tail: int = 100,
        on_repair: Callable[[Repair], None] | None = None,
        record_file: bool = True,
    ) -> None:
        """``record_file=False``: ``training_metrics.json`` is not re-derived after every change
        but only when ``write_record_file`` is called (a replay, which changes the store at
        every step, writes it once at its end)."""
        self.models_dir = Path(models_dir)
        self.retention = retention
        self.clock = clock
        self.history_tail = history_tail
        self.record_file = record_file
        self.on_repair = on_repair or (lambda repair: None)
        self.db = Database(self.models_dir / "registry.sqlite")
        self._ready = False

    # -- paths --------------------------------------------------------------------------
    @property
    def prod_path(self) -> Path:
        return self.models_dir / "prod_model.bin"

    @property
    def backup_path(self) -> Path:
        return self.models_dir / "backup_model.bin"

    @property
    def metrics_path(self) -> Path:
        return self.models_dir / "training_metrics.json"

    @property
    def tuned_params_path(self) -> Path:
        return self.models_dir / "tuned_params.json"

    @property
    def quarantine_dir(self) -> Path:
        return self.models_dir / "quarantine"

    def role_path(self, role: str) -> Path:
        return self.prod_path if role == "production" else self.backup_path

    def version_path(self, version: str) -> Path:
        if not VERSION_ID.fullmatch(version):
            raise InvalidVersionId(
                f"version {version[:40]!r} is not a version id like 20250119_020534"
            )
        return self.models_dir / f"prod_model_{version}.bin"

    # -- opening: create, import an old-format folder, survive a corrupt database -----------
    def ensure(self) -> bool:
        """Make the store usable; False when it does not exist and cannot be created."""
        if self._ready:
            return True
        try:
            if self.db.exists():
                try:
                    self.db.check()
                except sqlite3.DatabaseError as error:
                    if not is_corrupt(error):
                        raise
                    self._quarantine_database(str(error))
            if not self.db.exists() or self.db.get_meta("initialized") is None:
                self.db.create()
                self._import_files()
            else:
                self._upgrade()
        except StoreUnavailable:
            if not self.db.exists():
                return False
            raise
        self._ready = True
        return True

    def _upgrade(self) -> None:
        """Add the tables of a newer schema; a read-only store keeps answering without them."""
        try:
            if self.db.upgrade():
                self._repair(f"{self.db.path.name} upgraded to schema version {SCHEMA_VERSION}")
        except StoreUnavailable as error:
            logger.info("store not upgraded (%s); monitoring reads as empty", error)

    def _require(self) -> None:
        if not self.ensure():
            raise StoreUnavailable(f"cannot create the model store in {self.models_dir}")

    def _quarantine_database(self, why: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(self.db.path) + suffix)
            if path.exists():
                self.quarantine(path)
        self._repair(
            f"{self.db.path.name} was unreadable ({why}); moved to quarantine/ and rebuilt from "
            "the model files and training_metrics.json (runs beyond its tail are lost)",
            alert=True,
        )

    def _import_files(self) -> None:
        """Build the store from the files of an earlier release (or after losing the database).

        Nothing is lost: every verified version file, production and backup, the history and
        deployments of ``training_metrics.json`` and the jobs of ``jobs.json``.
        """
        found: dict[str, tuple[bytes, Container]] = {}
        for path in sorted(self.models_dir.glob("prod_model_*.bin")):
            if match := VERSION_FILE.match(path.name):
                try:
                    data = path.read_bytes()
                    found[match.group(1)] = (data, unpack(data, str(path)))
                except (OSError, CorruptModel) as error:
                    self._repair(f"not imported: {error}", alert=True)
        pointers: dict[str, str] = {}
        for role in ROLES:
            path = self.role_path(role)
            if not path.exists():
                continue
            try:
                data = path.read_bytes()
                container = unpack(data, str(path))
            except (OSError, CorruptModel) as error:
                self._repair(f"not imported: {error}", alert=True)
                continue
            version = container.version
            if not version or not VERSION_ID.fullmatch(version):
                self._repair(f"not imported: {path} has no version id", alert=True)
                continue
            if version not in found:  # retention deleted it: the role file is the only copy
                atomic_write_bytes(self.version_path(version), data)
                found[version] = (data, container)
            pointers.setdefault(role, version)
        record = self._read_old_record()
        jobs = self._read_old_jobs()
        with self.db.transaction() as connection:
            if self.db_initialized(connection):
                return  # another process imported first
            for version, (data, container) in found.items():
                self.db.add_version(connection, _version_row(version, data, container))
            for role, version in pointers.items():
                self.db.set_pointer(connection, role, version)
            for index, raw in enumerate(record.get("history", [])):
                run = _import_run(raw, index)
                if run is not None:
                    self.db.put_run(connection, run, None)
            for raw in record.get("deployments", []):
                deployment = _import_model(Deployment, raw)
                if deployment is not None:
                    self.db.add_deployment(connection, deployment)
            for raw in jobs:
                job = _import_model(Job, raw)
                if job is not None:
                    self.db.put_job(connection, job, None)
            self.db.set_meta(connection, "initialized", self.clock().isoformat())
        if found or record or jobs:
            self._repair(
                f"imported {len(found)} version(s), {len(record.get('history', []))} run(s), "
                f"{len(record.get('deployments', []))} deployment(s) and {len(jobs)} job(s) "
                "from the files of an earlier release"
            )
        old_jobs = self.models_dir / "jobs.json"
        if old_jobs.exists():
            self.quarantine(old_jobs, note=False)

    @staticmethod
    def db_initialized(connection: sqlite3.Connection) -> bool:
        row = connection.execute("SELECT value FROM meta WHERE key = 'initialized'").fetchone()
        return row is not None

    def _read_old_record(self) -> dict[str, list]:
        path = self.metrics_path
        if not path.exists():
            return {}
        try:
            record = json.loads(path.read_bytes())
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as error:
            self.quarantine(path)
            self._repair(f"{path.name} unreadable ({error}); quarantined", alert=True)
            return {}
        return {
            key: value
            for key in ("history", "deployments")
            if isinstance(value := record.get(key), list)
        }

    def _read_old_jobs(self) -> list:
        path = self.models_dir / "jobs.json"
        if not path.exists():
            return []
        try:
            jobs = json.loads(path.read_bytes())
            if not isinstance(jobs, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as error:
            self.quarantine(path)
            self._repair(f"jobs.json unreadable ({error}); quarantined", alert=True)
            return []
        return [job for job in jobs.values() if isinstance(job, dict)]

    # -- the one writer -------------------------------------------------------------------
    def acquire(self, what: str = "a retrain, deploy or rollback") -> WriteSession:
        """Take the writer's lock now (or raise AlreadyRunning) and reconcile the folder."""
        busy = (
            f"a retrain, deploy or rollback is already running on {self.models_dir}; "
            "try again when it has finished"
        )
        lock = WriterLock(self.models_dir / ".lock", busy)
        lock.acquire()
        token = secrets.token_hex(8)
        owner = f"{this_process()}:{token}"
        ACTIVE_LEASES.add(token)
        session = WriteSession(self, lock, owner, token)
        try:
            self.ensure()
            self.db.take_lease(owner, self.clock().isoformat(), busy)
            self.reconcile()
        except BaseException:
            session.release()
            raise
        return session

    def repair(self) -> None:
        """Take the lock just long enough to reconcile the folder with the store."""
        self.acquire().release()

    @contextmanager
    def writing(self) -> Iterator[WriteSession]:
        session = self.acquire()
        try:
            yield session
        finally:
            session.release()

    def busy(self) -> bool:
        """Whether a writer holds the lock now; a probe that never takes it."""
        if WriterLock(self.models_dir / ".lock", "").held_elsewhere():
            return True
        try:
            return self.db.exists() and self.db.lease_holder() is not None
        except StoreUnavailable:
            return False

    # -- reconciliation (lock held) ------------------------------------------------------------
    def reconcile(self) -> None:
        """Make the folder agree with the store; every fix is logged (and alerted if serious)."""
        for leftover in stale_temporaries(self.models_dir):
            leftover.unlink(missing_ok=True)
            self._repair(f"removed {leftover.name}, left by a writer that was killed")
        self._close_dead_runs_and_jobs()
        self._sync_role_files()
        self._clean_orphans()
        self.write_record_file()

    def _close_dead_runs_and_jobs(self) -> None:
        dead_runs = [(r, o) for r, o in self.db.unfinished_runs() if not is_alive(o)]
        dead_jobs = [(j, o) for j, o in self.db.unfinished_jobs() if not is_alive(o)]
        if not dead_runs and not dead_jobs:
            return  # the usual case: no write, no fsync
        now = self.clock().isoformat()
        with self.db.transaction() as connection:
            for run, owner in dead_runs:
                closed = run.model_copy(
                    update={"outcome": "interrupted", "finished_at": now, "reason": DEAD_RUN}
                )
                self.db.put_run(connection, closed, owner)
                self._repair(f"run {run.run_id} was interrupted (its process died)")
            for job, owner in dead_jobs:
                job_run = self.db.run_of_job(job.job_id)
                if job_run is not None and job_run.outcome not in ("running", "interrupted"):
                    update = {"status": FINAL_JOB_STATUS[job_run.outcome], "reason": job_run.reason}
                else:
                    reason = "the server stopped before the job finished"
                    update = {"status": "interrupted", "reason": reason}
                    if job_run is None:
                        self.db.put_run(connection, _interrupted_run(job, now, reason), owner)
                self.db.put_job(
                    connection, job.model_copy(update={**update, "finished_at": now}), owner
                )
                self._repair(f"job {job.job_id} was {update['status']} (its process died)")

    def _sync_role_files(self) -> None:
        pointers = self.db.pointers()
        for role in ROLES:
            path, version = self.role_path(role), pointers.get(role)
            if version is None:
                if path.exists():
                    self.quarantine(path)
                    self._repair(f"{path.name} belongs to no recorded version; quarantined", True)
                continue
            good = self.verified_bytes(version)
            if good is None:
                self._repair(
                    f"{role} version {version} has no intact copy (version file and "
                    f"{path.name} both fail their checksum)",
                    alert=True,
                )
                continue
            version_path = self.version_path(version)
            if good.source != version_path:  # the version file is missing or corrupt
                if version_path.exists():
                    self.quarantine(version_path)
                atomic_write_bytes(version_path, good.data)
                self._repair(f"restored {version_path.name} from {good.source.name}")
            if good.source == path:
                continue
            if path.exists() and not self._is_known_copy(path):
                self.quarantine(path)
                self._repair(f"{path.name} was corrupt; quarantined and restored", alert=True)
            atomic_write_bytes(path, good.data)
            self._repair(f"{path.name} now holds {role} version {version}")

    def _is_known_copy(self, path: Path) -> bool:
        """An intact copy of some recorded version (stale, not corrupt)."""
        try:
            digest = file_digest(path.read_bytes())
        except OSError:
            return False
        return self.db.has_digest(digest)

    def _clean_orphans(self) -> None:
        known = set(self.db.version_names())
        for path in self.models_dir.glob("prod_model_*.bin"):
            match = VERSION_FILE.match(path.name)
            if match and match.group(1) not in known:
                path.unlink(missing_ok=True)
                self._repair(f"removed {path.name}: written by a deploy that never committed")

    def quarantine(self, path: Path, *, note: bool = True) -> Path:
        self.quarantine_dir.mkdir(exist_ok=True)
        stamp = self.clock().strftime("%Y%m%d_%H%M%S")
        target = self.quarantine_dir / f"{path.name}.{stamp}"
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.quarantine_dir / f"{path.name}.{stamp}_{suffix}"
        os.replace(path, target)
        fsync_directory(self.models_dir)
        if note:
            logger.warning("moved %s to %s", path, target)
        return target

    def _repair(self, message: str, alert: bool = False) -> None:
        (logger.warning if alert else logger.info)("store: %s", message)
        self.on_repair(Repair(message, alert))

    # -- reading ---------------------------------------------------------------------------
    def verified_bytes(self, version: str, *, prefer: Path | None = None) -> ModelBytes | None:
        """An intact copy of ``version``: ``prefer`` (a role file), else its version file, else
        a role file holding it."""
        row = self.db.version(version)
        if row is None:
            return None
        paths = (self.version_path(version), self.prod_path, self.backup_path)
        for path in dict.fromkeys((prefer, *paths) if prefer else paths):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if file_digest(data) == row.file_sha256:
                return ModelBytes(version, data, path)
        return None

    def pointers(self) -> dict[str, str]:
        return self.db.pointers() if self.ensure() else {}

    def production_version(self) -> str | None:
        return self.pointers().get("production")

    def production_bytes(self) -> tuple[ModelBytes | None, list[str]]:
        """The bytes to serve and the problems met finding them (no lock needed).

        Production's verified bytes; else the backup's; else the newest intact version.
        """
        problems: list[str] = []
        if not self.ensure():
            return None, problems
        pointers = self.db.pointers()
        for role in ROLES:
            version = pointers.get(role)
            if version is None:
                continue
            good = self.verified_bytes(version, prefer=self.role_path(role))
            if good is not None:
                if good.source != self.role_path(role) and role == "production":
                    problems.append(
                        f"{self.prod_path.name} does not hold production version {version}; "
                        f"served from {good.source.name}"
                    )
                return good, problems
            problems.append(f"no intact copy of {role} version {version}")
        for row in self.db.versions():
            good = self.verified_bytes(row.version)
            if good is not None:
                if pointers:
                    problems.append(f"serving the newest intact version {row.version}")
                return good, problems
        return None, problems

    def versions(self) -> list[VersionInfo]:
        """Every stored version, newest first, with its role and whether its file verifies."""
        if not self.ensure():
            return []
        roles = {version: role for role, version in self.db.pointers().items()}
        return [self._version_info(row, roles) for row in self.db.versions()]

    def version_info(self, version: str) -> VersionInfo | None:
        """One stored version as ``versions()`` lists it (verifying only its own file)."""
        row = self.db.version(version) if self.ensure() else None
        if row is None:
            return None
        roles = {version: role for role, version in self.db.pointers().items()}
        return self._version_info(row, roles)

    def _version_info(self, row: VersionRow, roles: dict[str, str]) -> VersionInfo:
        metadata = row.metadata
        metrics = metadata.get("metrics") or {}
        return VersionInfo(
            version=row.version,
            path=str(self.version_path(row.version)),
            role=roles.get(row.version),  # type: ignore[arg-type]
            created_at=row.created_at,
            train_start=metadata.get("train_start"),
            train_end=metadata.get("train_end"),
            forced=bool(metadata.get("forced", False)),
            verified=self.verified_bytes(row.version) is not None,
            metrics={key: metrics.get(key) for key in METRIC_KEYS},
            data=metadata.get("data_source"),
        )

    def version_metadata(self, version: str) -> dict[str, Any] | None:
        row = self.db.version(version) if self.ensure() else None
        return row.metadata if row else None

    def production_metrics(self) -> dict[str, Any]:
        version = self.production_version()
        metadata = self.version_metadata(version) if version else None
        return dict((metadata or {}).get("metrics") or {})

    def history(
        self, limit: int = 20, offset: int = 0, outcome: str | None = None
    ) -> tuple[int, list[RunRecord]]:
        """(total, one page of runs newest first)."""
        if not self.ensure():
            return 0, []
        return self.db.count_runs(outcome), self.db.runs(limit, offset, outcome)

    def runs_since(self, since: str | None, limit: int, offset: int = 0) -> list[RunRecord]:
        """One page of the runs started at or after ``since`` (all runs when None), newest
        first."""
        return self.db.runs(limit, offset, since=since) if self.ensure() else []

    def last_run(self) -> RunRecord | None:
        _, runs = self.history(limit=1)
        return runs[0] if runs else None

    def deployments(self, limit: int | None = None) -> list[Deployment]:
        return self.db.deployments(limit) if self.ensure() else []

    def production_on(self, when: str) -> str | None:
        """Which version was in production at ``when`` (an ISO date or time)."""
        current = None
        for event in self.deployments():
            if event.at[: len(when)] <= when:
                current = event.to_version
        return current

    def job(self, job_id: str) -> Job | None:
        return self.db.job(job_id) if self.ensure() else None

    # -- writing (session held) ---------------------------------------------------------------
    def new_version_id(self) -> str:
        base = self.clock().strftime("%Y%m%d_%H%M%S")
        known = set(self.db.version_names())
        candidate, suffix = base, 1
        while candidate in known or self.version_path(candidate).exists():
            suffix += 1
            candidate = f"{base}_{suffix}"
        return candidate

    def new_job_id(self, now: datetime) -> str:
        base = f"retrain_{int(now.timestamp())}"
        taken = self.db.job_ids_like(base)
        candidate, suffix = base, 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}_{suffix}"
        return candidate

    def save_run(self, run: RunRecord) -> None:
        """Insert or update a run (``running`` at its start, then its outcome)."""
        owner = this_process() if run.outcome == "running" else None
        self._require()
        with self.db.transaction() as connection:
            self.db.put_run(connection, run, owner)
        if run.outcome != "running" and self.record_file:
            self.write_record_file()

    def save_job(self, job: Job) -> None:
        owner = this_process() if job.status in ("queued", "running") else None
        self._require()
        with self.db.transaction() as connection:
            self.db.put_job(connection, job, owner)

    def deploy(
        self,
        session: WriteSession,
        version: str,
        data: bytes,
        *,
        run: RunRecord,
        reason: str,
        forced: bool = False,
    ) -> None:
        """Make ``data`` (a packed container of ``version``) production; commit ``run`` with it."""
        assert session.registry is self
        container = unpack(data, f"version {version}")  # never store what would not load
        atomic_write_bytes(self.version_path(version), data)
        pointers = self.db.pointers()
        previous = pointers.get("production")
        backup = previous if previous and self.verified_bytes(previous) else None
        if backup is None:
            backup = self._newest_intact(exclude={version})
        deployment = Deployment(
            kind="deploy",
            from_version=previous,
            to_version=version,
            at=self.clock().isoformat(),
            reason=reason,
            forced=forced,
            run_id=run.run_id,
        )
        with self.db.transaction() as connection:  # the commit point
            self.db.add_version(connection, _version_row(version, data, container))
            self.db.set_pointer(connection, "production", version)
            self.db.set_pointer(connection, "backup", backup)
            self.db.add_deployment(connection, deployment)
            self.db.put_run(connection, run, None)
        self._after_commit(f"deploy of {version}", retention=True)

    def _after_commit(self, what: str, *, retention: bool = False) -> None:
        """Derive the files from the committed store. A failure here (disk full) never undoes
        the commit: the next holder of the lock finishes the job (``reconcile``)."""
        try:
            self._sync_role_files()
            if retention:
                self.apply_retention()
            if self.record_file:
                self.write_record_file()
        except (OSError, StoreUnavailable) as error:
            self._repair(
                f"{what} is committed, but the files could not all be written ({error}); "
                "they will be repaired when the store is next written",
                alert=True,
            )

    def rollback(
        self,
        session: WriteSession,
        version: str | None = None,
        *,
        expected_version: str | None = None,
        reason: str = "manual rollback",
    ) -> RollbackResult:
        """Make the backup (or ``version``) production; production becomes the backup."""
        assert session.registry is self
        pointers = self.db.pointers()
        current = pointers.get("production")
        if expected_version is not None and current != expected_version:
            raise ProductionChanged(
                f"production is {current or 'nothing'}, not {expected_version}: someone else "
                "changed it; nothing rolled back"
            )
        if version is None:
            target = pointers.get("backup")
            if target is None:
                raise NothingToRollBack("no backup model to roll back to")
        else:
            self.version_path(version)  # InvalidVersionId
            if self.db.version(version) is None:
                newest = ", ".join(row.version for row in self.db.versions()[:5]) or "none"
                raise VersionNotFound(f"version {version} not found (newest: {newest})")
            target = version
        if target == current:
            raise AlreadyInProduction(f"version {target} is already in production")
        good = self.verified_bytes(target)
        if good is None:
            raise CorruptModel(f"version {target} has no intact copy; nothing rolled back")
        good.container()  # parses: only a loadable model goes live
        backup = current if current and self.verified_bytes(current) else None
        deployment = Deployment(
            kind="rollback",
            from_version=current,
            to_version=target,
            at=self.clock().isoformat(),
            reason=reason,
        )
        with self.db.transaction() as connection:  # the commit point
            self.db.set_pointer(connection, "production", target)
            self.db.set_pointer(connection, "backup", backup)
            self.db.add_deployment(connection, deployment)
        self._after_commit(f"rollback to {target}")
        return RollbackResult(
            message=f"Successfully rolled back to model version {target}",
            version=target,
            previous_version=current,
        )

    def _newest_intact(self, exclude: set[str]) -> str | None:
        for row in self.db.versions():
            if row.version not in exclude and self.verified_bytes(row.version):
                return row.version
        return None

    def apply_retention(self) -> list[str]:
        """Forget versions beyond the newest ``retention``; never production or backup."""
        keep = set(self.db.pointers().values())
        doomed = [v for v in self.db.version_names(skip=self.retention) if v not in keep]
        if not doomed:
            return []
        with self.db.transaction() as connection:  # forget first: a file left is an orphan
            for version in doomed:
                self.db.remove_version(connection, version)
        for version in doomed:
            self.version_path(version).unlink(missing_ok=True)
        return doomed

    def write_record_file(self) -> None:
        """Derive ``training_metrics.json``: production's flat metrics, a tail of the history
        (``history_total`` says how many runs the store holds) and the deployment timeline."""
        pointers = self.db.pointers()
        version = pointers.get("production")
        metadata = (self.version_metadata(version) if version else None) or {}
        metrics = dict(metadata.get("metrics") or {})
        total, newest = self.db.count_runs(), self.db.runs(self.history_tail)
        record = {
            **{key: metrics.get(key) for key in METRIC_KEYS},
            "version": version,
            "backup_version": pointers.get("backup"),
            "metrics": metrics,
            "history_total": total,
            "history": [run.to_json() for run in reversed(newest)],
            "deployments": [event.to_json() for event in self.db.deployments()],
        }
        path = self.metrics_path
        wanted = json.dumps(record, indent=2, default=str).encode()
        try:
            current = path.read_bytes()
        except OSError:
            current = None
        if current == wanted:
            return
        if current is not None and not _is_json_object(current):
            self.quarantine(path)
            self._repair(f"{path.name} was unreadable; quarantined and rebuilt", alert=True)
        atomic_write_bytes(path, wanted)


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _version_row(version: str, data: bytes, container: Container) -> VersionRow:
    return VersionRow(
        version=version,
        file_sha256=file_digest(data),
        created_at=container.metadata.get("created_at"),
        metadata=container.metadata,
    )


def _import_model(cls: Any, raw: Any) -> Any:
    try:
        return cls.model_validate(raw)
    except ValueError as error:
        logger.warning("not imported (%s): %s", cls.__name__, str(error).splitlines()[0])
        return None


def _import_run(raw: Any, index: int) -> RunRecord | None:
    if not isinstance(raw, dict):
        return None
    run_id = raw.get("run_id") or raw.get("job_id") or f"run_{index:06d}_{raw.get('started_at')}"
    return _import_model(RunRecord, {**raw, "run_id": run_id})


def _interrupted_run(job: Job, now: str, reason: str) -> RunRecord:
    return RunRecord(
        run_id=job.job_id,
        job_id=job.job_id,
        trigger=job.trigger,
        full=job.full,
        forced=job.force,
        started_at=job.started_at or job.created_at,
        finished_at=now,
        outcome="interrupted",
        reason=reason,
    )
