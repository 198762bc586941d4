"""What the monitor does about what it measured: a pure decision, executed by ``monitor.py``.

    drift beyond threshold        -> one out-of-cycle retrain a day (every gate still applies)
    production worse than shadow  -> alert; with auto_rollback, roll back to the shadow
    production worse than claim   -> alert; with auto_rollback, roll back when the shadow did
                                     no worse on the same rows (else a rollback cannot help)
    stale data                    -> alert, pause scheduled retrains until a newer bar arrives
    newer bar after a pause       -> resume scheduled retrains

Each fires once: drift once a day, the comparisons once per production version, stale data
once per newest bar. ``seen(kind, key)`` says whether it fired already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import MonitoringSettings

DRIFT_RETRAIN = "drift_retrain"
WORSE_THAN_SHADOW = "worse_than_shadow"
WORSE_THAN_CLAIM = "worse_than_claim"
STALE_DATA = "stale_data"
RESUMED = "retrains_resumed"
ACTIONS = (DRIFT_RETRAIN, WORSE_THAN_SHADOW, WORSE_THAN_CLAIM, STALE_DATA, RESUMED)


@dataclass(frozen=True)
class Decision:
    kind: str
    key: str  # what "once" is counted by: the day, the production version or the newest bar
    reason: str
    retrain: bool = False
    rollback: bool = False
    pause: bool = False
    resume: bool = False


def decide(
    report: dict[str, Any],
    settings: MonitoringSettings,
    *,
    today: str,
    paused_at: str | None,
    seen: Callable[[str, str], bool],
) -> list[Decision]:
    decisions: list[Decision] = []
    freshness = report.get("freshness") or {}
    newest = freshness.get("newest_bar")
    production = report.get("production_version")
    if paused_at is not None and newest is not None and newest > paused_at:
        decisions.append(
            Decision(
                RESUMED, newest, f"a newer bar ({newest}) arrived; retrains resume", resume=True
            )
        )
    if freshness.get("stale") and newest is not None and not seen(STALE_DATA, newest):
        decisions.append(
            Decision(
                STALE_DATA,
                newest,
                f"stale data: the newest bar ({newest}) is {freshness.get('age_days')} business "
                f"days old (monitoring.stale_days = {settings.stale_days})"
                + (
                    "; scheduled retrains pause until a newer bar arrives"
                    if settings.pause_on_stale
                    else ""
                ),
                pause=settings.pause_on_stale,
            )
        )
    drift = report.get("drift") or {}
    if (
        settings.drift_retrain
        and drift.get("drift")
        and not freshness.get("stale")
        and not seen(DRIFT_RETRAIN, today)
    ):
        drifted = [f["feature"] for f in drift.get("features", []) if f["drifted"]]
        decisions.append(
            Decision(
                DRIFT_RETRAIN,
                today,
                f"drift: {len(drifted)} of {len(drift.get('features', []))} features drifted "
                f"({', '.join(drifted)}; max PSI {drift.get('max_psi')}) since the training "
                "window; an out-of-cycle retrain runs through every gate",
                retrain=True,
            )
        )
    if production is None:
        return decisions
    comparison = report.get("comparison") or {}
    shadow_test = comparison.get("test") or {}
    if (
        settings.compare_shadow
        and shadow_test.get("significant")
        and not seen(WORSE_THAN_SHADOW, production)
    ):
        decisions.append(
            Decision(
                WORSE_THAN_SHADOW,
                production,
                f"production {production} is significantly worse than its shadow "
                f"{comparison.get('shadow_version')} on the same {comparison.get('rows')} "
                f"predictions: accuracy {shadow_test.get('difference'):+.3f} "
                f"(p {shadow_test.get('p_value')}, {shadow_test.get('blocks')} blocks of dates)",
                rollback=settings.auto_rollback,
            )
        )
    claim = report.get("claim") or {}
    claim_test = claim.get("test") or {}
    if (
        settings.compare_claim
        and claim_test.get("significant")
        and not seen(WORSE_THAN_CLAIM, production)
    ):
        shadow_no_worse = (
            shadow_test.get("difference") is not None and shadow_test["difference"] <= 0
        )
        decisions.append(
            Decision(
                WORSE_THAN_CLAIM,
                production,
                f"production {production} realised accuracy {claim.get('realised_accuracy')} is "
                f"significantly below its deploy-time claim {claim.get('claimed_accuracy')} "
                f"(p {claim_test.get('p_value')})",
                rollback=settings.auto_rollback
                and shadow_no_worse
                and not any(d.rollback for d in decisions),
            )
        )
    return decisions
