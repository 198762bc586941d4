"""Crash-safe file writes: temp file in the same folder, fsync, rename, fsync the folder.

A process killed at any instant leaves either the old file or the new one, never a mix; an
``OSError`` that means "cannot write here" (disk full, read-only) becomes ``StoreUnavailable``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import UNAVAILABLE_ERRNOS, store_unavailable

TEMP_SUFFIX = ".tmp"


def fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
        )
    except OSError as error:
        if error.errno in UNAVAILABLE_ERRNOS:
            raise store_unavailable(error, str(path)) from None
        raise
    try:
        os.fchmod(descriptor, 0o644)  # mkstemp makes 0600; models are meant to be shared
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in UNAVAILABLE_ERRNOS:
            raise store_unavailable(error, str(path)) from None
        raise


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_bytes(path, json.dumps(payload, indent=2, default=str).encode())


def stale_temporaries(folder: Path) -> list[Path]:
    """Temp files a killed writer left behind (they never replaced anything)."""
    return sorted(Path(folder).glob(f".*{TEMP_SUFFIX}"))
