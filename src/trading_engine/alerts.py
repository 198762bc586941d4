"""Alerts: ``models/alerts.log`` in the seed's format, and an optional webhook.

A sink that fails (a webhook that is down) is logged and never fails the run.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .records import HoldoutMetrics, RollbackResult, RunRecord

if TYPE_CHECKING:
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
        import httpx  # only when a webhook is configured: keeps the CLI quick to start

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
        return self.deliver(Alert(title, emoji, headline, lines or []))

    def deliver(self, alert: Alert) -> Alert:
        alert = replace(alert, at=self.clock())
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception as error:  # an alert sink must never fail a retrain
                logger.error("alert sink %s failed: %s", type(sink).__name__, error)
        return alert


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and value == value else "n/a"


METRIC_LABELS = {
    "f1_score": "F1 Score",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "roc_auc": "ROC AUC",
}
DROP_GATES = ("max_f1_drop", "max_accuracy_drop")


def metric_lines(metrics: HoldoutMetrics | None, previous: HoldoutMetrics | None) -> list[str]:
    """The seed's metric block: each metric with its previous value where known."""
    lines = ["Metrics:"]
    for key, label in METRIC_LABELS.items():
        was = getattr(previous, key, None) if previous else None
        shown = f" (prev: {_fmt(was)})" if was is not None else ""
        lines.append(f"- {label + ':':<11}{_fmt(getattr(metrics, key, None))}{shown}")
    return lines


def run_lines(run: RunRecord) -> list[str]:
    return [
        f"Training Duration: {run.duration_seconds or 0:.1f}s",
        f"Training Samples: {run.samples or 0}",
        f"Tickers: {run.tickers or 0}",
        "",
    ]


def lookahead_lines(run: RunRecord) -> list[str]:
    """What the look-ahead audit found (leaks first), or nothing when it found nothing."""
    audit = run.lookahead
    if audit is None or not audit.findings:
        return []
    found = sorted(audit.findings, key=lambda finding: not finding.leak)
    return [
        f"Look-ahead audit: {len(audit.leaks)} leak(s), {len(audit.warnings)} warning(s)",
        *(f"- {'LEAK' if f.leak else 'warning'} {f.message()}" for f in found),
        "",
    ]


def rollback_alert(result: RollbackResult, reason: str, paths: Sequence[str]) -> Alert:
    return Alert(
        "Model Rollback",
        ROLLBACK,
        f"Rolled back from {result.previous_version} to {result.version}.",
        [f"Reason: {reason}", *paths],
    )


def run_alert(run: RunRecord, paths: Sequence[str]) -> Alert | None:
    """The seed's alert for a finished run, worded from its record (None while running)."""
    metrics = metric_lines(run.metrics, run.previous_metrics)
    if run.outcome == "deployed":
        if run.forced:
            failed = [gate.name for gate in run.gates.failed] if run.gates else []
            headline = (
                f"New model deployed by force: failed gate(s) {', '.join(failed)} overridden!"
                if failed
                else "New model deployed by force (it passed every gate anyway)."
            )
        else:
            headline = "New model deployed successfully!"
        lines = [
            *run_lines(run),
            *lookahead_lines(run),
            *metrics,
            "",
            f"Version: {run.version}",
            *paths,
        ]
        return Alert("Model Retraining Success", SUCCESS, headline, lines)
    if run.outcome == "rejected":
        failing = run.gates.failed if run.gates else []
        gate_lines = ["Failed gates:"] + [
            f"- {g.name}: {g.value:.4f} (needs {g.rule} {g.threshold:.4f})" for g in failing
        ]
        lines = [
            *run_lines(run),
            *lookahead_lines(run),
            *metrics,
            "",
            *gate_lines,
            "",
            "Production model kept.",
            *paths,
        ]
        if any(gate.name in DROP_GATES for gate in failing):
            headline = "Candidate is worse than production; not deployed."
            return Alert("Model Performance Degradation", DEGRADED, headline, lines)
        return Alert(
            "Model Validation Failed", FAILURE, "Candidate failed validation; not deployed.", lines
        )
    if run.outcome == "skipped":
        return Alert("Scheduled Retrain Skipped", DEGRADED, str(run.reason), list(paths))
    if run.outcome in ("failed", "interrupted"):
        return Alert(
            "Model Retraining Error",
            ERROR,
            f"Retraining {run.outcome}: {run.reason}",
            [*run_lines(run), "Production model kept.", *paths],
        )
    return None
