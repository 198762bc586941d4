"""Application logging to ``logs/app.log`` (rotating), as the seed's troubleshooting expects."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(logs_dir: Path, level: int = logging.INFO) -> Path:
    """Send the package's log records to ``logs_dir/app.log``; idempotent."""
    logs_dir = Path(logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = (logs_dir / "app.log").resolve()
    root = logging.getLogger("trading_engine")
    root.setLevel(level)
    for handler in root.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    return path
