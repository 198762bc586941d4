"""The store of record and the seed's files derived from it."""

from .container import Container, pack, unpack
from .registry import ModelBytes, ModelRegistry, Repair, WriteSession, utc_now

__all__ = [
    "Container",
    "ModelBytes",
    "ModelRegistry",
    "Repair",
    "WriteSession",
    "pack",
    "unpack",
    "utc_now",
]
