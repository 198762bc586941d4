"""The model store: versions, production and backup, deploy, rollback, history. Only stores.

Layout (the seed's)::

    models/
    ├── prod_model.bin                  the production model
    ├── backup_model.bin                the model in production before it (rollback target)
    ├── prod_model_20250119_020534.bin  every model ever deployed (last N kept)
    ├── training_metrics.json           production metrics (flat keys), history, deployments
    └── alerts.log                      written by alerts.py

A ``.bin`` file is a header line, one line of JSON metadata and LightGBM's own text model, so
loading a model never runs code (no pickle). The metadata holds the SHA-256 of the model text;
loading verifies it. Every write goes through ``storage.atomic_write_bytes``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import lightgbm as lgb
from filelock import FileLock, Timeout

from .errors import AlreadyRunning, RegistryError
from .storage import atomic_write_bytes, atomic_write_json, remove_stale_temporaries
from .training.model import TrainedModel

MAGIC = b"trading-engine model v1\n"
VERSION_PATTERN = re.compile(r"^prod_model_(\d{8}_\d{6}(?:_\d+)?)\.bin$")
FLAT_METRICS = ("f1_score", "accuracy", "precision", "recall", "roc_auc", "cv_mean", "cv_std")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredModel:
    """A model loaded from a ``.bin`` file with its metadata."""

    model: TrainedModel
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return self.metadata["version"]


def encode_model(model: TrainedModel, metadata: dict[str, Any]) -> bytes:
    text = model.booster.model_to_string().encode()
    header = {
        **metadata,
        "feature_names": list(model.feature_names),
        "horizon": model.horizon,
        "train_start": model.train_start,
        "train_end": model.train_end,
        "label_end": model.label_end,
        "params": model.params,
        "metrics": model.metrics,
        "sha256": hashlib.sha256(text).hexdigest(),
        "libraries": {name: package_version(name) for name in ("lightgbm", "numpy", "TA-Lib")},
    }
    return MAGIC + json.dumps(header, default=str).encode() + b"\n" + text


def decode_model(data: bytes, source: str) -> StoredModel:
    """Parse and verify a ``.bin`` file; RegistryError says what is wrong with it."""
    if not data.startswith(MAGIC):
        raise RegistryError(f"{source}: not a trading-engine model file (bad header)")
    head, newline, text = data[len(MAGIC) :].partition(b"\n")
    if not newline:
        raise RegistryError(f"{source}: truncated (no model after the metadata)")
    try:
        metadata = json.loads(head)
    except json.JSONDecodeError as error:
        raise RegistryError(f"{source}: unreadable metadata ({error.msg})") from None
    digest = hashlib.sha256(text).hexdigest()
    if digest != metadata.get("sha256"):
        raise RegistryError(
            f"{source}: checksum mismatch (file {digest[:12]}, recorded "
            f"{str(metadata.get('sha256'))[:12]}): the file is corrupt"
        )
    try:
        booster = lgb.Booster(model_str=text.decode())
    except (lgb.basic.LightGBMError, UnicodeDecodeError) as error:
        raise RegistryError(f"{source}: LightGBM cannot read the model ({error})") from None
    model = TrainedModel(
        booster=booster,
        feature_names=tuple(metadata["feature_names"]),
        horizon=int(metadata["horizon"]),
        train_start=metadata["train_start"],
        train_end=metadata["train_end"],
        label_end=metadata["label_end"],
        params=metadata.get("params", {}),
        metrics=metadata.get("metrics", {}),
    )
    return StoredModel(model, metadata)


class ModelRegistry:
    """Versions, production, backup and the record of every run, in one models folder."""

    def __init__(
        self, models_dir: Path, *, retention: int = 30, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.models_dir = Path(models_dir)
        self.retention = retention
        self.clock = clock

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

    def version_path(self, version: str) -> Path:
        if not re.fullmatch(r"\d{8}_\d{6}(?:_\d+)?", version):
            raise RegistryError(f"version {version!r} is not a version id like 20250119_020534")
        return self.models_dir / f"prod_model_{version}.bin"

    # -- the one writer -------------------------------------------------------------------
    def lock(self) -> FileLock:
        """The cross-process lock for retrain, deploy and rollback (not re-entrant by thread)."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(self.models_dir / ".lock", timeout=0, thread_local=False)

    def acquire(self) -> FileLock:
        """Take the lock now or raise AlreadyRunning."""
        lock = self.lock()
        try:
            lock.acquire()
        except Timeout:
            raise AlreadyRunning(
                "a retrain, deploy or rollback is already running on "
                f"{self.models_dir}; try again when it has finished"
            ) from None
        remove_stale_temporaries(self.models_dir)
        return lock

    # -- reading -------------------------------------------------------------------------
    def read_record(self) -> dict[str, Any]:
        if not self.metrics_path.exists():
            return {"history": [], "deployments": []}
        try:
            record = json.loads(self.metrics_path.read_text())
        except json.JSONDecodeError as error:
            raise RegistryError(f"{self.metrics_path}: unreadable ({error.msg})") from None
        record.setdefault("history", [])
        record.setdefault("deployments", [])
        return record

    def load(self, path: Path) -> StoredModel:
        if not path.exists():
            raise RegistryError(f"{path}: missing")
        return decode_model(path.read_bytes(), str(path))

    def load_version(self, version: str) -> StoredModel:
        return self.load(self.version_path(version))

    def load_production(self) -> tuple[StoredModel | None, str | None]:
        """(production model, problem). Falls back to the backup when prod is corrupt or missing.

        Returns (None, None) when nothing was ever deployed.
        """
        if not self.prod_path.exists() and not self.backup_path.exists():
            return None, None
        try:
            return self.load(self.prod_path), None
        except RegistryError as error:
            problem = str(error)
        try:
            backup = self.load(self.backup_path)
        except RegistryError as error:
            raise RegistryError(f"{problem}; and the backup failed too: {error}") from None
        return backup, f"{problem}; serving the backup model {backup.version}"

    def versions(self) -> list[dict[str, Any]]:
        """Every stored version, newest first, with whether it is prod or backup."""
        roles = {}
        for role, path in (("production", self.prod_path), ("backup", self.backup_path)):
            version = self._peek_version(path)
            if version:
                roles.setdefault(version, role)
        found = []
        for path in self.models_dir.glob("prod_model_*.bin"):
            match = VERSION_PATTERN.match(path.name)
            if match:
                metadata = self._peek_metadata(path) or {}
                found.append(
                    {
                        "version": match.group(1),
                        "path": str(path),
                        "role": roles.get(match.group(1)),
                        "created_at": metadata.get("created_at"),
                        "train_start": metadata.get("train_start"),
                        "train_end": metadata.get("train_end"),
                        "forced": metadata.get("forced", False),
                        "metrics": {k: metadata.get("metrics", {}).get(k) for k in FLAT_METRICS},
                    }
                )
        return sorted(found, key=lambda item: item["version"], reverse=True)

    def _peek_metadata(self, path: Path) -> dict[str, Any] | None:
        try:
            with path.open("rb") as handle:
                if handle.readline() != MAGIC:
                    return None
                return json.loads(handle.readline())
        except (OSError, json.JSONDecodeError):
            return None

    def _peek_version(self, path: Path) -> str | None:
        metadata = self._peek_metadata(path) if path.exists() else None
        return metadata.get("version") if metadata else None

    # -- writing (call with the lock held) -------------------------------------------------
    def new_version_id(self) -> str:
        base = self.clock().strftime("%Y%m%d_%H%M%S")
        candidate, suffix = base, 1
        while (self.models_dir / f"prod_model_{candidate}.bin").exists():
            suffix += 1
            candidate = f"{base}_{suffix}"
        return candidate

    def deploy(
        self,
        model: TrainedModel,
        *,
        gate_report: dict[str, Any],
        reason: str,
        forced: bool = False,
    ) -> str:
        """Store ``model`` as a new version and make it production; the old one becomes backup.

        Steps, each atomic: write the version file, backup <- prod, prod <- new, then the record.
        """
        self.models_dir.mkdir(parents=True, exist_ok=True)
        version = self.new_version_id()
        previous = self._peek_version(self.prod_path)
        data = encode_model(
            model,
            {
                "version": version,
                "created_at": self.clock().isoformat(),
                "gate_report": gate_report,
                "forced": forced,
            },
        )
        atomic_write_bytes(self.version_path(version), data)
        if self.prod_path.exists():
            atomic_write_bytes(self.backup_path, self.prod_path.read_bytes())
        atomic_write_bytes(self.prod_path, data)
        self._record_deployment("deploy", previous, version, reason, forced, model.metrics)
        self.apply_retention()
        return version

    def rollback(self, version: str | None = None, *, reason: str = "manual rollback") -> str:
        """Make the backup (or ``version``) production; the current production becomes backup."""
        current = self._peek_version(self.prod_path)
        if version is None:
            if not self.backup_path.exists():
                raise RegistryError("no backup model to roll back to")
            path = self.backup_path
        else:
            path = self.version_path(version)
            if not path.exists():
                known = ", ".join(v["version"] for v in self.versions()[:5]) or "none"
                raise RegistryError(f"version {version} not found (newest: {known})")
        data = path.read_bytes()
        target = decode_model(data, str(path))  # verified before it can become production
        if target.version == current:
            raise RegistryError(f"version {target.version} is already in production")
        if self.prod_path.exists():
            atomic_write_bytes(self.backup_path, self.prod_path.read_bytes())
        atomic_write_bytes(self.prod_path, data)
        self._record_deployment(
            "rollback", current, target.version, reason, False, target.model.metrics
        )
        return target.version

    def _record_deployment(
        self,
        kind: str,
        previous: str | None,
        version: str,
        reason: str,
        forced: bool,
        metrics: dict[str, Any],
    ) -> None:
        record = self.read_record()
        for key in FLAT_METRICS:
            record[key] = metrics.get(key)
        record["version"] = version
        record["metrics"] = metrics
        record["deployments"].append(
            {
                "kind": kind,
                "from_version": previous,
                "to_version": version,
                "at": self.clock().isoformat(),
                "reason": reason,
                "forced": forced,
            }
        )
        atomic_write_json(self.metrics_path, record)

    def record_run(self, run: dict[str, Any]) -> None:
        """Append one retrain (deployed, rejected or failed) to the history."""
        record = self.read_record()
        record["history"].append(run)
        atomic_write_json(self.metrics_path, record)

    def apply_retention(self) -> list[str]:
        """Delete version files beyond the newest ``retention``; never production or backup."""
        keep = {self._peek_version(self.prod_path), self._peek_version(self.backup_path)}
        versions = sorted(
            (m.group(1), p)
            for p in self.models_dir.glob("prod_model_*.bin")
            if (m := VERSION_PATTERN.match(p.name))
        )
        removed = []
        for version, path in versions[: max(0, len(versions) - self.retention)]:
            if version not in keep:
                path.unlink(missing_ok=True)
                removed.append(version)
        return removed

    def production_on(self, when: str) -> str | None:
        """Which version was in production at ``when`` (an ISO date or time)."""
        current = None
        for event in self.read_record()["deployments"]:
            if event["at"][: len(when)] <= when:
                current = event["to_version"]
        return current
