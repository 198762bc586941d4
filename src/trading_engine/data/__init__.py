"""Market data: providers, validation and the clean types they produce."""

from .demo import DemoMarket
from .market import Finding, MarketData, PriceHistory, QualityReport
from .providers import load_market, require_enough

__all__ = [
    "DemoMarket",
    "Finding",
    "MarketData",
    "PriceHistory",
    "QualityReport",
    "load_market",
    "require_enough",
]
