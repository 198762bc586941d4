"""The ``.bin`` container: a header line, one line of JSON metadata, then the model's own bytes.

The store never interprets the payload (the model serialises itself, see
``training/model.py``); it only checks that the payload matches the SHA-256 in the metadata,
so a torn or bit-flipped file is caught before anyone loads it. Nothing here runs code from
the file: no pickle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CorruptModel

MAGIC = b"trading-engine model v1\n"


@dataclass(frozen=True)
class Container:
    metadata: dict[str, Any]
    payload: bytes

    @property
    def version(self) -> str | None:
        version = self.metadata.get("version")
        return version if isinstance(version, str) else None


def pack(metadata: dict[str, Any], payload: bytes) -> bytes:
    header = {**metadata, "sha256": hashlib.sha256(payload).hexdigest()}
    return MAGIC + json.dumps(header, default=str).encode() + b"\n" + payload


def unpack(data: bytes, source: str) -> Container:
    """Parse and verify a container; ``CorruptModel`` says what is wrong with it."""
    if not data.startswith(MAGIC):
        raise CorruptModel(f"{source}: not a trading-engine model file (bad header)")
    head, newline, payload = data[len(MAGIC) :].partition(b"\n")
    if not newline:
        raise CorruptModel(f"{source}: truncated (no model after the metadata)")
    try:
        metadata = json.loads(head)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptModel(f"{source}: unreadable metadata ({error})") from None
    if not isinstance(metadata, dict):
        raise CorruptModel(f"{source}: metadata is not a JSON object")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != metadata.get("sha256"):
        raise CorruptModel(
            f"{source}: checksum mismatch (file {digest[:12]}, recorded "
            f"{str(metadata.get('sha256'))[:12]}): the file is corrupt"
        )
    return Container(metadata, payload)


def read_container(path: Path) -> Container:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorruptModel(f"{path}: missing") from None
    except OSError as error:
        raise CorruptModel(f"{path}: unreadable ({error.strerror})") from None
    return unpack(data, str(path))


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
