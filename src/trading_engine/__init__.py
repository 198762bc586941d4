"""trading-engine: keeps a stock-direction model fresh, honestly validated, with rollback."""

__version__ = "0.1.0"
