"""Write a replay's outputs: summary JSON, daily predictions and outcomes (Parquet), the step
log (JSON lines), a self-contained HTML report (inline SVG, no script, no network) and PNG
images of its charts (matplotlib, imported only here).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from .replay import BASELINES, ReplayResult
from .replay_summary import rolling_metrics

COLOURS = {
    "policy": "#1f77b4",
    "never_retrain": "#d62728",
    "always_deploy": "#2ca02c",
    "always_up": "#7f7f7f",
    "train_base_rate": "#ff7f0e",
}
WIDTH, HEIGHT, PAD = 900, 260, 48


def write_outputs(result: ReplayResult, summary: dict[str, Any], out: Path) -> dict[str, str]:
    """Every output file under ``out``; returns their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.json",
        "predictions": out / "predictions.parquet",
        "steps": out / "steps.jsonl",
        "report": out / "report.html",
        "chart_accuracy": out / "rolling_accuracy.png",
        "chart_auc": out / "rolling_auc.png",
        "chart_model_age": out / "model_age.png",
        "store": result.store,
    }
    outputs = {name: str(path) for name, path in paths.items()}
    summary["outputs"] = outputs
    _write_predictions(result, paths["predictions"])
    with paths["steps"].open("w") as steps:
        for log in result.steps:
            steps.write(json.dumps(log.to_json()) + "\n")
    rolling = rolling_metrics(result)
    paths["report"].write_text(_html(result, summary, rolling))
    _write_pngs(result, rolling, paths)
    paths["summary"].write_text(json.dumps(summary, indent=2, default=str))
    return outputs


def _write_predictions(result: ReplayResult, path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "date": result.row_dates.astype("datetime64[ns]"),
            "ticker": result.row_tickers.astype(str),
            "outcome_up": result.y,
            **{f"p_{name}": values for name, values in result.probability.items()},
            "live_version": result.live_version.astype(str),
            "model_age_days": result.model_age,
        }
    )
    frame.to_parquet(path, index=False)


# -- charts as data -------------------------------------------------------------------------------


def _model_age_by_date(result: ReplayResult) -> tuple[list[str], list[int]]:
    dates, first = np.unique(result.row_dates, return_index=True)
    return [str(d) for d in dates], [int(a) for a in result.model_age[first]]


def _events(result: ReplayResult) -> list[tuple[str, str]]:
    return [
        (log.date, log.outcome) for log in result.steps if log.outcome in ("deployed", "rejected")
    ]


# -- HTML with inline SVG ---------------------------------------------------------------------


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - 2 * PAD) * (index / max(1, count - 1))


def _y(value: float, low: float, high: float) -> float:
    return HEIGHT - PAD + (value - low) / (high - low or 1) * -(HEIGHT - 2 * PAD)


def _svg_lines(
    title: str,
    dates: list[str],
    series: dict[str, list[float | None]],
    low: float,
    high: float,
    events: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> str:
    count = len(dates)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{PAD}" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for tick in np.linspace(low, high, 5):
        y = _y(float(tick), low, high)
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="4" y="{y + 4:.1f}" font-size="10">{tick:.2f}</text>'
        )
    index_of = {d: i for i, d in enumerate(dates)}
    for date, outcome in events:
        if date not in index_of:
            continue
        x = _x(index_of[date], count)
        colour = "#2ca02c" if outcome == "deployed" else "#d62728"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - PAD}" y2="{HEIGHT - PAD + 8}" '
            f'stroke="{colour}"><title>{date} {outcome}</title></line>'
        )
    for position in range(0, count, max(1, count // 6)):
        parts.append(
            f'<text x="{_x(position, count):.1f}" y="{HEIGHT - 12}" font-size="10" '
            f'text-anchor="middle">{dates[position]}</text>'
        )
    for legend, (name, values) in enumerate(series.items()):
        points = [
            f"{_x(i, count):.1f},{_y(float(v), low, high):.1f}"
            for i, v in enumerate(values)
            if v is not None
        ]
        colour = COLOURS.get(name, "#000")
        if points:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                f'points="{" ".join(points)}"/>'
            )
        parts.append(
            f'<text x="{WIDTH - PAD - 120}" y="{36 + 13 * legend}" font-size="11" '
            f'fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html(result: ReplayResult, summary: dict[str, Any], rolling: dict[str, Any]) -> str:
    dates = rolling["dates"]
    window = rolling["window_days"]
    accuracy = {name: s["accuracy"] for name, s in rolling["series"].items()}
    auc = {name: s["roc_auc"] for name, s in rolling["series"].items() if name != "always_up"}
    age_dates, ages = _model_age_by_date(result)
    events = _events(result)
    policy = summary["policy"]
    rows = []
    for name in ("policy", *BASELINES):
        metrics = policy["metrics"] if name == "policy" else summary["baselines"][name]["metrics"]
        versus = {} if name == "policy" else summary["baselines"][name]["policy_minus_baseline"]
        difference = versus.get("accuracy", {})
        interval = (
            f"{difference.get('difference')} [{difference.get('ci_low')}, "
            f"{difference.get('ci_high')}]"
            if difference
            else ""
        )
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(value))}</td>"
                for value in (
                    name,
                    metrics["roc_auc"],
                    metrics["accuracy"],
                    metrics["brier"],
                    metrics["pt_p_value"],
                    metrics["rows"],
                    interval,
                )
            )
            + "</tr>"
        )
    changes = "".join(
        f"<li>{html.escape(c['date'])}: "
        + (
            f"recovered at step {c['recovery_step']} ({c['recovery_date']}, "
            f"{c['business_days_to_recover']} business days)"
            if c.get("recovered")
            else "no recovery within the replay"
        )
        + "</li>"
        for c in summary.get("regime_changes", [])
    )
    gates = ", ".join(f"{k} {v}" for k, v in policy["rejections_by_gate"].items()) or "none"
    max_age = max(ages) if ages else 1
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Replay {summary["start"]} to \
{summary["end"]}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
</style></head><body>
<h1>Replay of the retraining policy</h1>
<p>{summary["steps"]} {summary["every"]} steps from {summary["start"]} to {summary["end"]};
predictions scored from {summary["scored_from"]} to {summary["scored_to"]} on
{summary["tickers"]} tickers. Deployments {policy["deployments"]}, rejections
{policy["rejections"]} (by gate: {html.escape(gates)}), failures {policy["failures"]}.</p>
<table><tr><th>policy / baseline</th><th>AUC</th><th>accuracy</th><th>Brier</th>
<th>PT p</th><th>rows</th><th>policy minus it, accuracy [95 % CI]</th></tr>
{"".join(rows)}</table>
<h2>Regime changes</h2><ul>{changes or "<li>none known</li>"}</ul>
<h2>Rolling {window}-day realised accuracy</h2>
{_svg_lines(f"accuracy, trailing {window} trading dates", dates, accuracy, 0.0, 1.0, events)}
<h2>Rolling {window}-day realised AUC</h2>
{_svg_lines(f"AUC, trailing {window} trading dates", dates, auc, 0.0, 1.0, events)}
<h2>Age of the production model (business days since its deployment)</h2>
{_svg_lines("model age", age_dates, {"policy": list(ages)}, 0.0, float(max_age), events)}
<p>Ticks under each chart: green a deployment, red a rejection.</p>
</body></html>
"""


# -- PNG -----------------------------------------------------------------------------------------


def _write_pngs(result: ReplayResult, rolling: dict[str, Any], paths: dict[str, Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import date2num

    dates = np.array(rolling["dates"], dtype="datetime64[D]")
    deployed = [np.datetime64(log.date) for log in result.steps if log.outcome == "deployed"]
    rejected = [np.datetime64(log.date) for log in result.steps if log.outcome == "rejected"]
    for key, metric, label in (
        ("chart_accuracy", "accuracy", "accuracy"),
        ("chart_auc", "roc_auc", "AUC"),
    ):
        figure, axis = plt.subplots(figsize=(10, 3.6))
        for name, series in rolling["series"].items():
            if metric == "roc_auc" and name == "always_up":
                continue
            values = np.array([np.nan if v is None else v for v in series[metric]], dtype=float)
            axis.plot(dates, values, label=name, color=COLOURS.get(name), linewidth=1.2)
        axis.plot(deployed, np.full(len(deployed), 0.02), "|", color="#2ca02c", label="deployed")
        axis.plot(rejected, np.full(len(rejected), 0.06), "|", color="#d62728", label="rejected")
        for change in result.regime_changes:
            if len(dates) and dates[0] <= change <= dates[-1]:
                where = float(date2num(change.astype("datetime64[D]").item()))
                axis.axvline(where, color="#999", linestyle="--", linewidth=0.8)
        axis.set_ylim(0, 1)
        axis.set_ylabel(f"{label}, trailing {rolling['window_days']} days")
        axis.legend(loc="lower left", fontsize=7, ncol=4)
        figure.tight_layout()
        figure.savefig(paths[key], dpi=90)
        plt.close(figure)
    age_dates, ages = _model_age_by_date(result)
    figure, axis = plt.subplots(figsize=(10, 2.6))
    axis.plot(np.array(age_dates, dtype="datetime64[D]"), ages, color=COLOURS["policy"])
    axis.set_ylabel("model age (business days)")
    figure.tight_layout()
    figure.savefig(paths["chart_model_age"], dpi=90)
    plt.close(figure)
