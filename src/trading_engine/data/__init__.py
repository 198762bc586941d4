"""Market data: providers, validation and the clean types they produce."""

from .demo import DemoMarket
from .market import DataSource, Finding, MarketData, PriceHistory, QualityReport
from .providers import load_market, require_enough

__all__ = [
    "DataSource",
    "DemoMarket",
    "Finding",
    "MarketData",
    "PriceHistory",
    "QualityReport",
    "load_market",
    "require_enough",
]
