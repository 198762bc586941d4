"""Scaling: time and peak memory per stage at 50, 500 and 2000 tickers x 5040 days.

Each size runs in a fresh process on a folder of Parquet files made by the demo generator
(20 years). Stages: load (read + validate the folder), features, cross-validation, final
fit, holdout (metrics + skill bootstrap), deploy (write the model atomically). Peak resident
memory is sampled every 5 ms during each stage. The reference printed beside each size is
linear scaling from the smallest size: seconds per million rows should stay flat or fall.

Run: .venv/bin/python bench/scale.py [--sizes 50 500 2000] [--days 5040]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, write_demo_folder

TARGET_SECONDS, TARGET_MB, TARGET_SIZE = 60.0, 4096.0, 500


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stage:
    """Wall time and peak RSS of a block, sampled by a background thread."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __enter__(self) -> Stage:
        self.peak = rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def run_pipeline(folder: Path, models: Path) -> dict:
    """One size, in this (fresh) process: every stage timed and its peak memory sampled."""
    import numpy as np

    from trading_engine.config import load_settings
    from trading_engine.data import load_market
    from trading_engine.features import dataset_from_market, feature_window
    from trading_engine.records import RunRecord
    from trading_engine.store import ModelRegistry
    from trading_engine.training import train_and_evaluate

    settings = load_settings(
        data={"provider": "parquet", "folder": folder}, market={"period": "max"}
    )
    stages: dict[str, dict] = {}
    with Stage() as stage:
        market = load_market(
            settings,
            today=np.datetime64("2026-11-24"),
            min_history=feature_window(settings.retraining.features),
        )
    stages["load"] = {"seconds": stage.seconds, "peak_mb": stage.peak}
    with Stage() as stage:
        dataset = dataset_from_market(market)
    stages["features"] = {"seconds": stage.seconds, "peak_mb": stage.peak}
    del market

    # CV, fit and holdout run back to back inside one call: their times come from the
    # trainer's own stage clock, their peak memory is the peak across the call.
    with Stage() as stage:
        result = train_and_evaluate(dataset, None, settings.retraining)
    timings = result.timings
    # The final fit runs beside the older folds (trainer.validate_and_fit): one stage.
    stages["cross_validation_and_fit"] = {
        "seconds": timings["prepare"] + timings["cross_validation_and_fit"],
        "peak_mb": stage.peak,
    }
    stages["holdout"] = {"seconds": timings["holdout"], "peak_mb": stage.peak}
    # Boosting work = rows x rounds, summed over every fit: cost per unit of it should be flat.
    row_rounds = sum(f.train_rows * f.rounds_trained for f in result.folds)
    row_rounds += result.metrics["train_rows"] * result.metrics["final_rounds"]
    training_seconds = timings["prepare"] + timings["cross_validation_and_fit"]
    with Stage() as stage:
        registry = ModelRegistry(models)
        with registry.writing() as session:
            version = registry.new_version_id()
            run = RunRecord(run_id="bench", started_at=version, outcome="deployed", version=version)
            data = result.model.to_bytes({"version": version})
            registry.deploy(session, version, data, run=run, reason="bench")
    stages["deploy"] = {"seconds": stage.seconds, "peak_mb": stage.peak}
    return {
        "rows": len(dataset),
        "stages": stages,
        "total_seconds": sum(s["seconds"] for s in stages.values()),
        "peak_mb": max(s["peak_mb"] for s in stages.values()),
        "holdout_auc": result.metrics["roc_auc"],
        "fold_rounds": [f.rounds_trained for f in result.folds],
        "final_rounds": result.metrics["final_rounds"],
        "training_seconds_per_million_row_rounds": training_seconds / (row_rounds / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--days", type=int, default=5040)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_pipeline(Path(args.worker[0]), Path(args.worker[1]))))
        return
    facts = machine()
    print(
        f"scale bench: {args.days} days per ticker, {facts['cores']} cores, "
        f"Python {facts['python']}, {facts['versions']}"
    )
    print(
        f"target: {TARGET_SIZE} tickers in < {TARGET_SECONDS:.0f} s and < {TARGET_MB:.0f} MB peak; "
        "cost per million rows no worse than at the smallest size"
    )
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder, models = Path(tmp) / "market", Path(tmp) / "models"
            folder.mkdir()
            write_demo_folder(folder, size, args.days, "parquet")
            output = subprocess.run(
                [sys.executable, __file__, "--worker", str(folder), str(models)],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ,
            )
            result = {
                "tickers": size,
                "days": args.days,
                **json.loads(output.stdout.splitlines()[-1]),
            }
        results.append(result)
        per_million = result["total_seconds"] / (result["rows"] / 1e6)
        linear = results[0]["total_seconds"] * result["rows"] / results[0]["rows"]
        print(
            f"\n{size} tickers x {args.days} days = {result['rows']:,} rows: "
            f"{result['total_seconds']:.1f} s total ({per_million:.2f} s per million rows; "
            f"linear from {args.sizes[0]} tickers would be {linear:.1f} s), "
            f"peak {result['peak_mb']:.0f} MB, "
            f"holdout AUC {result['holdout_auc']:.3f}"
        )
        print(
            f"  boosting rounds: folds {result['fold_rounds']}, final {result['final_rounds']}; "
            f"training {result['training_seconds_per_million_row_rounds']:.3f} s per million "
            "row-rounds (flat = linear in rows per round)"
        )
        for name, stage in result["stages"].items():
            print(f"  {name:<17} {stage['seconds']:8.2f} s   peak {stage['peak_mb']:8.0f} MB")
        if size == TARGET_SIZE:
            ok = result["total_seconds"] < TARGET_SECONDS and result["peak_mb"] < TARGET_MB
            print(
                f"  target {'met' if ok else 'MISSED'}: {result['total_seconds']:.1f} s "
                f"(< {TARGET_SECONDS:.0f}), {result['peak_mb']:.0f} MB (< {TARGET_MB:.0f})"
            )
    print(f"figures written to {save('scale', {'results': results})}")


if __name__ == "__main__":
    main()
