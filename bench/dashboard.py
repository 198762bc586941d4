"""Server time of each dashboard page on the demo store (target: under 200 ms each).

The store is made by real retrains on the built-in demo market (50 tickers, the defaults of
``trading-engine demo``) and the daily monitoring job run on the business days after (each as
of its day, as ``monitor --run --as-of``: the Monitoring page and the Overview show a realised
series, drift and freshness), then optionally given a long history of extra run records. Each page
is requested through the real app (in-process ASGI client); the server time is the page's own
``Server-Timing`` (reading the service + rendering the template), the wall time adds the
framework and the client. The first request after a deploy also decodes the production model;
it is reported apart ("cold"). ``--no-gc`` turns Python's cyclic garbage collector off, to
tell its full collections (the rare slow request) from the pages' own work.

    python bench/dashboard.py [--deploys 30] [--runs 3000] [--monitor-days 30] [--repeat 30]
                              [--no-gc]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TRADING_ENGINE_RETRAINING__LIGHTGBM__NUM_THREADS", "1")

from bench.common import save

TARGET_MS = 200.0


def make_store(folder: Path, deploys: int):
    from trading_engine.config import load_settings
    from trading_engine.model_retraining import ModelRetrainingService

    settings = load_settings(
        paths={"models_dir": folder / "models", "logs_dir": folder / "logs"},
        retraining={"schedule": {"timezone": "UTC"}},
    )
    service = ModelRetrainingService(settings)
    for index in range(deploys):
        run = service.run_retrain(force=index > 0)
        print(f"  retrain {index + 1}/{deploys}: {run.outcome} {run.version or ''}", flush=True)
    service.rollback(reason="bench: a rollback on the timeline")
    return service


def monitor_days(service, days: int) -> None:
    """The daily monitoring job on ``days`` business days from today, each with the demo
    market as of that day (as ``monitor --run --as-of DAY``): a report with a realised series,
    drift and freshness for the Monitoring page and the Overview. Drift retrains off (they
    would add deploys the bench did not ask for)."""
    from datetime import UTC, datetime

    import numpy as np

    from trading_engine.model_retraining import ModelRetrainingService

    monitoring = service.settings.monitoring.model_copy(update={"drift_retrain": False})
    settings = service.settings.model_copy(update={"monitoring": monitoring})
    today = np.datetime64(service.clock().date(), "D")
    for index in range(days):
        day = np.busday_offset(today, index, roll="forward")
        moment = datetime.fromisoformat(f"{day}T22:30:00").replace(tzinfo=UTC)
        report = ModelRetrainingService(settings, clock=lambda m=moment: m).run_monitoring()
    if days:
        print(f"  monitoring: {days} days, {len(report['series'])} scored as-of dates", flush=True)


def add_runs(service, runs: int) -> None:
    """``runs`` more run records (copies of the last real one), as months of nightly runs."""
    if runs <= 0:
        return
    _, (last,) = service.registry.history(limit=1)
    with service.registry.db.transaction() as connection:
        for index in range(runs):
            copy = last.model_copy(
                update={"run_id": f"run_filler_{index:06d}", "outcome": "rejected", "version": None}
            )
            service.registry.db.put_run(connection, copy, None)


def server_ms(response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def measure(client, paths: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    figures = {}
    for name, path in paths.items():
        first = client.get(path)
        assert first.status_code == 200, (path, first.status_code)
        servers, walls = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path)
            walls.append((time.perf_counter() - started) * 1000)
            servers.append(server_ms(response))
        figures[name] = {
            "cold_server_ms": round(server_ms(first), 2),
            "server_ms_median": round(statistics.median(servers), 2),
            "server_ms_p95": round(statistics.quantiles(servers, n=20)[-1], 2),
            "server_ms_max": round(max(servers), 2),
            "wall_ms_median": round(statistics.median(walls), 2),
            "bytes": len(first.content),
        }
    return figures


def pages(service) -> dict[str, str]:
    _, (run,) = service.registry.history(limit=1, outcome="deployed")
    version = service.registry.pointers()["backup"]
    job_id = run.job_id or "none"
    return {
        "overview": "/",
        "timeline": "/timeline",
        "runs": "/runs",
        "runs, deployed only": "/runs?outcome=deployed",
        "runs, page 50": "/runs?offset=1000",
        "monitoring": "/monitoring",
        "one run": f"/runs/{run.run_id}",
        "one version": f"/versions/{version}",
        "alerts": "/alerts",
        "job panel": f"/ui/jobs/{job_id}",
    }


def report(title: str, figures: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'page':<22}{'cold':>8}{'median':>8}{'p95':>8}{'max':>8}{'wall':>8}{'KB':>7}  (ms)")
    for name, f in figures.items():
        flag = "" if f["server_ms_max"] < TARGET_MS else "  over target"
        print(
            f"{name:<22}{f['cold_server_ms']:>8.1f}{f['server_ms_median']:>8.1f}"
            f"{f['server_ms_p95']:>8.1f}{f['server_ms_max']:>8.1f}{f['wall_ms_median']:>8.1f}"
            f"{f['bytes'] / 1024:>7.1f}{flag}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=30, help="real retrains (all deployed)")
    parser.add_argument("--runs", type=int, default=3000, help="extra run records afterwards")
    parser.add_argument(
        "--monitor-days", type=int, default=30, help="days of the monitoring job afterwards"
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-gc", action="store_true", help="garbage collector off")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()

    from fastapi.testclient import TestClient

    from trading_engine.server import create_app

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        print(f"demo store: {args.deploys} real retrains on the demo market, one rollback")
        service = make_store(Path(folder), args.deploys)
        monitor_days(service, args.monitor_days)
        app = create_app(service, start_scheduler=False)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            figures = measure(client, pages(service), args.repeat)
            report(f"demo store ({service.registry.history(1)[0]} runs)", figures)
            results["demo"] = figures
            add_runs(service, args.runs)
            total = service.registry.history(1)[0]
            figures = measure(client, pages(service), args.repeat)
            report(f"long history ({total} runs)", figures)
            results["long_history"] = {"runs": total, **figures}
    worst = max(
        f["server_ms_max"] for r in results.values() for f in r.values() if isinstance(f, dict)
    )
    print(f"\nslowest page, server time: {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
    path = save(
        "dashboard",
        {
            "target_ms": TARGET_MS,
            "deploys": args.deploys,
            "monitor_days": args.monitor_days,
            "repeat": args.repeat,
            "gc": not args.no_gc,
            **results,
        },
    )
    print(f"figures: {path}")


if __name__ == "__main__":
    main()
