"""Alerts: ``models/alerts.log`` in the seed's format, and an optional webhook.

A sink that fails (a webhook that is down) is logged and never fails the run.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

SUCCESS, FAILURE, DEGRADED, ROLLBACK, ERROR = "✅", "❌", "⚠️", "🔄", "💥"


@dataclass(frozen=True)
class Alert:
    title: str
    emoji: str
    headline: str
    lines: list[str] = field(default_factory=list)
    at: datetime | None = None

    def text(self) -> str:
        stamp = (self.at or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
        body = "\n".join(self.lines)
        return f"[{stamp}] {self.title}\n{self.emoji} {self.headline}\n" + (
            f"\n{body}\n" if body else ""
        )


class AlertSink(ABC):
    @abstractmethod
    def send(self, alert: Alert) -> None:
        """Deliver one alert; raise on failure (the dispatcher logs it)."""


class FileAlertSink(AlertSink):
    """Appends alerts to ``models/alerts.log`` (append-only: a torn last entry loses no other)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(alert.text() + "\n")
            handle.flush()


class WebhookAlertSink(AlertSink):
    """POSTs ``{"text": ..., "title": ..., "status": ...}`` with a timeout and retries."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.transport = transport

    def send(self, alert: Alert) -> None:
        payload = {"text": alert.text(), "title": alert.title, "status": alert.emoji}
        last_error: Exception | None = None
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            for attempt in range(self.retries + 1):
                try:
                    response = client.post(self.url, json=payload)
                    response.raise_for_status()
                    return
                except httpx.HTTPError as error:
                    last_error = error
                    if attempt < self.retries:
                        time.sleep(self.backoff * 2**attempt)
        raise RuntimeError(
            f"webhook {self.url} failed after {self.retries + 1} attempt(s): {last_error}"
        )


class Alerts:
    """Sends each alert to every sink; a failing sink is logged, never raised."""

    def __init__(
        self, sinks: Sequence[AlertSink], clock: Callable[[], datetime] = datetime.now
    ) -> None:
        self.sinks = list(sinks)
        self.clock = clock

    def send(self, title: str, emoji: str, headline: str, lines: list[str] | None = None) -> Alert:
        alert = Alert(title, emoji, headline, lines or [], at=self.clock())
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception as error:  # an alert sink must never fail a retrain
                logger.error("alert sink %s failed: %s", type(sink).__name__, error)
        return alert


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and value == value else "n/a"


def metric_lines(metrics: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """The seed's metric block: each metric with its previous value where known."""
    previous = previous or {}
    lines = ["Metrics:"]
    labels = {
        "f1_score": "F1 Score",
        "accuracy": "Accuracy",
        "precision": "Precision",
        "recall": "Recall",
        "roc_auc": "ROC AUC",
    }
    for key, label in labels.items():
        was = f" (prev: {_fmt(previous[key])})" if previous.get(key) is not None else ""
        lines.append(f"- {label + ':':<11}{_fmt(metrics.get(key))}{was}")
    return lines


def run_lines(run: dict[str, Any]) -> list[str]:
    return [
        f"Training Duration: {run.get('duration_seconds', 0):.1f}s",
        f"Training Samples: {run.get('samples', 0)}",
        f"Tickers: {run.get('tickers', 0)}",
        "",
    ]
