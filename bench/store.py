"""The store of record under a long history: status, one history page, a deploy.

The first release kept every run in one JSON file and parsed it whole twice per /status
(1.4 ms at 3 runs, 369 ms at 3,000). Here the same reads come from SQLite; the reference,
measured in the same run, is parsing ``training_metrics.json`` written with every run (what the
first release did) for the same number of runs.

    python bench/store.py [--runs 3 300 3000 30000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import save, timed


def fill(models: Path, runs: int):
    from trading_engine.config import load_settings
    from trading_engine.model_retraining import ModelRetrainingService
    from trading_engine.records import GateResult, GateVerdict, HoldoutMetrics, RunRecord

    settings = load_settings(paths={"models_dir": models, "logs_dir": models.parent / "logs"})
    service = ModelRetrainingService(settings)
    registry = service.registry
    registry.ensure()
    metrics = HoldoutMetrics(f1_score=0.7, accuracy=0.7, roc_auc=0.75, cv_mean=0.7, cv_std=0.02)
    gates = GateVerdict(
        passed=False,
        gates=[GateResult(name="min_f1_score", value=0.6, threshold=0.65, passed=False, rule=">")]
        * 6,
    )
    with registry.db.transaction() as connection:
        for index in range(runs):
            run = RunRecord(
                run_id=f"run_{index:07d}",
                started_at=f"2026-01-01T00:00:{index % 60:02d}+00:00",
                finished_at="2026-01-01T00:01:00+00:00",
                outcome="rejected",
                reason="failed gate(s): min_f1_score",
                metrics=metrics,
                previous_metrics=metrics,
                gates=gates,
            )
            registry.db.put_run(connection, run, None)
    registry.write_record_file()
    return service, [run.to_json() for run in registry.history(limit=runs)[1]]


def parse_twice(path: Path) -> None:
    """What the first release's /status did: read the whole record file, twice."""
    for _ in range(2):
        json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="+", default=[3, 300, 3000, 30000])
    args = parser.parse_args()
    rows = []
    print(f"{'runs':>7} {'status ms':>10} {'history page ms':>16} {'JSON parse x2 ms':>17}")
    for runs in args.runs:
        with tempfile.TemporaryDirectory() as folder:
            models = Path(folder) / "models"
            service, every_run = fill(models, runs)
            old_format = Path(folder) / "old_training_metrics.json"
            old_format.write_text(json.dumps({"history": every_run, "deployments": []}, indent=2))
            status, _ = timed(service.get_status, repeat=20)
            page, _ = timed(partial(service.registry.history, limit=20), repeat=20)
            reference, _ = timed(partial(parse_twice, old_format), repeat=5)
        rows.append(
            {
                "runs": runs,
                "status_ms": status * 1e3,
                "history_page_ms": page * 1e3,
                "reference_json_parse_twice_ms": reference * 1e3,
            }
        )
        print(f"{runs:>7} {status * 1e3:>10.2f} {page * 1e3:>16.2f} {reference * 1e3:>17.2f}")
    path = save("store", {"rows": rows, "repeat": {"status": 20, "page": 20, "reference": 5}})
    print(f"written {path}")


if __name__ == "__main__":
    main()
