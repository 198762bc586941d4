"""Exceptions raised by trading-engine.

Every error a user can cause derives from ``TradingEngineError`` so the CLI and the API can
turn it into a one-line message instead of a traceback::

    TradingEngineError
    ├── ConfigError           a setting is unknown, misspelt or has a bad value
    ├── DataError             market data is unusable (too few tickers, provider failure)
    │   └── ProviderError     a provider could not fetch data (names the tickers)
    ├── ValidationRejected    a candidate model failed its gates
    ├── RegistryError         the model store is missing, corrupt or inconsistent
    └── AlreadyRunning        a retrain, deploy or rollback is already in progress
"""

from __future__ import annotations


class TradingEngineError(Exception):
    """Base class of every error trading-engine raises on purpose."""


class ConfigError(TradingEngineError):
    """A setting is unknown (a misspelt key or variable) or has a value that cannot be used."""


class DataError(TradingEngineError):
    """Market data cannot be used for the requested work."""


class ProviderError(DataError):
    """A market data provider failed to deliver data."""


class ValidationRejected(TradingEngineError):
    """A candidate model did not pass its gates."""


class RegistryError(TradingEngineError):
    """The model store is missing, corrupt or inconsistent."""


class AlreadyRunning(TradingEngineError):
    """Another retrain, deploy or rollback holds the lock."""
