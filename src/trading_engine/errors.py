"""Exceptions raised by trading-engine, and the one table that maps them to HTTP and exit codes.

Every error a user can cause derives from ``TradingEngineError`` so the CLI and the API turn it
into a one-line message instead of a traceback::

    TradingEngineError
    ├── ConfigError              a setting is unknown, misspelt or has a bad value
    ├── DataError                market data is unusable (too few tickers, provider failure)
    │   ├── DataLocationError    the market folder is missing, not a folder or unreadable
    │   ├── ProviderError        a provider could not fetch data (names the tickers)
    │   └── UnknownTickers       tickers the model's market data does not have
    ├── StoreError               the model store refused an operation
    │   ├── InvalidVersionId     not a version id like 20250119_020534
    │   ├── VersionNotFound      no such version is stored
    │   ├── NothingToRollBack    no backup to roll back to
    │   ├── AlreadyInProduction  the rollback target is already production
    │   ├── ProductionChanged    production is not the version the caller expected
    │   ├── CorruptModel         a model file fails its checksum or cannot be read
    │   ├── NoProductionModel    nothing was ever deployed (or nothing loads)
    │   └── StoreUnavailable     disk full, read-only folder, permissions
    └── AlreadyRunning           a retrain, deploy or rollback is already in progress

``describe(error)`` gives the (HTTP status, error name, CLI exit code) of any exception, from
``ERROR_TABLE`` alone: routes and commands never choose codes by reading error text.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass


class TradingEngineError(Exception):
    """Base class of every error trading-engine raises on purpose."""


class ConfigError(TradingEngineError):
    """A setting has a value that cannot be used."""


class DataError(TradingEngineError):
    """Market data cannot be used for the requested work."""


class DataLocationError(DataError):
    """The market folder does not exist, is not a folder or cannot be read: a usage mistake."""


class ProviderError(DataError):
    """A market data provider failed to deliver data."""


class UnknownTickers(DataError):
    """Tickers the model's market data does not have."""


class StoreError(TradingEngineError):
    """The model store refused an operation."""


# The name the first release used; kept so user code catching it still works.
RegistryError = StoreError


class InvalidVersionId(StoreError):
    """A string that is not a version id."""


class VersionNotFound(StoreError):
    """No stored version has this id."""


class NothingToRollBack(StoreError):
    """There is no backup model to roll back to."""


class AlreadyInProduction(StoreError):
    """The rollback target is already the production model."""


class ProductionChanged(StoreError):
    """Production is not the version the caller expected (someone else acted first)."""


class CorruptModel(StoreError):
    """A model file fails its checksum or cannot be read."""


class NoProductionModel(StoreError):
    """No production model: nothing was deployed yet, or nothing loads."""


class StoreUnavailable(StoreError):
    """The store cannot be written: disk full, a read-only folder, no permission."""


class AlreadyRunning(TradingEngineError):
    """Another retrain, deploy or rollback holds the lock."""


@dataclass(frozen=True)
class ErrorCode:
    http_status: int
    name: str  # the "error" field of the API's JSON
    exit_code: int  # 1: a run or action that failed; 2: a usage, settings or data-location mistake


# Most specific first is not needed: the lookup walks each exception's MRO.
ERROR_TABLE: dict[type[BaseException], ErrorCode] = {
    ConfigError: ErrorCode(400, "invalid_settings", 2),
    UnknownTickers: ErrorCode(404, "not_found", 2),
    DataLocationError: ErrorCode(422, "unusable_data", 2),
    ProviderError: ErrorCode(502, "provider_failed", 1),
    DataError: ErrorCode(422, "unusable_data", 1),
    InvalidVersionId: ErrorCode(422, "invalid_request", 2),
    VersionNotFound: ErrorCode(404, "not_found", 2),
    NothingToRollBack: ErrorCode(409, "conflict", 1),
    AlreadyInProduction: ErrorCode(409, "conflict", 1),
    ProductionChanged: ErrorCode(409, "conflict", 1),
    CorruptModel: ErrorCode(409, "corrupt_model", 1),
    NoProductionModel: ErrorCode(404, "not_found", 1),
    StoreUnavailable: ErrorCode(503, "unavailable", 1),
    StoreError: ErrorCode(409, "conflict", 1),
    AlreadyRunning: ErrorCode(409, "conflict", 1),
    TradingEngineError: ErrorCode(400, "error", 1),
}
INTERNAL = ErrorCode(500, "internal_error", 1)


def describe(error: BaseException) -> ErrorCode:
    """The codes of ``error``: its nearest class in ``ERROR_TABLE``, else an internal error."""
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return INTERNAL


UNAVAILABLE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def store_unavailable(error: OSError, what: str) -> StoreUnavailable:
    """A one-line StoreUnavailable for an OSError met while writing ``what``."""
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EROFS: "the file system is read-only",
    }.get(error.errno or 0, error.strerror or str(error))
    return StoreUnavailable(f"cannot write {what}: {reason}")
