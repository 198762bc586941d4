"""Replay: the whole retraining policy over history, beside one retrain measured in this run.

On the 50-ticker demo market (1512 business days to 2026-11-24: the steps cover the 4.2 years
after the first date with enough history to train):

* one retrain (the service's candidate step plus its judge, on the newest date);
* a weekly replay over the whole period (target: within 60 s on 2 cores);
* a daily replay over ``--daily-steps`` trading days, extrapolated to the whole period
  (target: within 5 minutes), unless ``--daily-full``;
* peak memory after a short and a long replay (flat in the number of steps?);
* the cost of one step against tickers and history length.

Run: .venv/bin/python bench/replay.py [--workers 2] [--daily-steps 60] [--daily-full] [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save
from trading_engine.config import DEFAULT_STOCKS, load_settings
from trading_engine.data import DemoMarket
from trading_engine.service import replay
from trading_engine.service.pipeline import prepare_candidate
from trading_engine.training.trainer import judge_candidate

END = "2026-11-24"


def settings(folder: Path):
    return load_settings(paths={"models_dir": folder / "models", "logs_dir": folder / "logs"})


def one_retrain(market, folder: Path) -> float:
    config = settings(folder)
    start = time.perf_counter()
    context = replay.ReplayContext.build(config, market)
    day = replay.trading_dates(market)[-1]
    prepared = prepare_candidate(config, context.market_at(day), dataset=context.dataset_at(day))
    judge_candidate(prepared.candidate, None, config.retraining, lookahead=prepared.lookahead)
    return time.perf_counter() - start


def run(market, folder: Path, every: str, workers: int, out: Path | None = None, **options):
    start = time.perf_counter()
    result = replay.run_replay(
        settings(folder), market, folder / f"store-{every}", every=every, workers=workers, **options
    )
    seconds = time.perf_counter() - start
    if out is not None:  # the report of the run, as `trading-engine replay --out` writes it
        from trading_engine.service.replay_report import write_outputs
        from trading_engine.service.replay_summary import summarise

        write_outputs(result, summarise(result), out)
    steps = result.steps
    return {
        "steps": len(steps),
        "seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(1, len(steps)), 3),
        "candidate_seconds_sum": round(sum(s.candidate_seconds for s in steps), 1),
        "decide_seconds_sum": round(sum(s.decide_seconds for s in steps), 1),
        "deployments": sum(s.outcome == "deployed" for s in steps),
        "first": str(result.dates[0]),
        "last": str(result.dates[-1]),
    }


MEMORY_SCRIPT = """
import resource, sys, tempfile
from pathlib import Path
import numpy as np
from trading_engine.config import DEFAULT_STOCKS, load_settings
from trading_engine.data import DemoMarket
from trading_engine.service import replay
market = DemoMarket(end="{end}").generate(list(DEFAULT_STOCKS))
folder = Path(tempfile.mkdtemp())
config = load_settings(paths={{"models_dir": folder / "models"}})
first = replay.first_trainable_date(replay.ReplayContext.build(config, market))
dates = replay.trading_dates(market)
end = dates[np.searchsorted(dates, first) + {steps}]
replay.run_replay(config, market, folder / "store", every="daily", start=first, end=end)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child started by a large parent
# (this bench, after its replays) would report the parent's size.
lines = Path("/proc/self/status").read_text().splitlines()
peak = [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
print(peak[0] / 1024 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_memory(steps: int) -> float:
    """Peak RSS (MB) of a fresh process replaying ``steps`` daily steps."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT.format(end=END, steps=steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


def step_cost(folder: Path) -> list[dict]:
    """Seconds of one candidate step against tickers and history (the newest date)."""
    rows = []
    for tickers in (10, 25, 50):
        for days in (756, 1512):
            market = DemoMarket(n_days=days, end=END).generate(list(DEFAULT_STOCKS)[:tickers])
            context = replay.ReplayContext.build(settings(folder), market)
            day = replay.trading_dates(market)[-1]
            start = time.perf_counter()
            replay.train_step(context, 0, day, None)
            rows.append(
                {
                    "tickers": tickers,
                    "history_days": days,
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
            print(f"  step cost: {tickers} tickers x {days} days: {rows[-1]['seconds']} s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--daily-steps", type=int, default=60)
    parser.add_argument("--daily-full", action="store_true")
    parser.add_argument("--out", type=Path, help="write the weekly replay's report here")
    args = parser.parse_args()
    if args.daily_steps < 4:
        parser.error("--daily-steps must be at least 4 (two runs of n/2 and n steps)")
    market = DemoMarket(end=END).generate(list(DEFAULT_STOCKS))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        retrain = one_retrain(market, folder)
        print(f"one retrain (50 tickers, 5 years): {retrain:.2f} s")
        costs = step_cost(folder)  # before the replays: this process is small then
        changes = [regime.start for regime in DemoMarket(end=END).regimes()]
        weekly = run(market, folder, "weekly", args.workers, out=args.out, regime_changes=changes)
        print(
            f"weekly replay: {weekly['steps']} steps {weekly['first']}..{weekly['last']} in "
            f"{weekly['seconds']} s ({weekly['seconds'] / retrain:.1f} retrains; "
            f"{weekly['seconds_per_step']} s per step; target 60 s)"
        )
        dates = replay.trading_dates(market)
        first = replay.first_trainable_date(replay.ReplayContext.build(settings(folder), market))
        all_daily = int(np.sum(dates >= first))
        if args.daily_full:
            daily = run(market, folder, "daily", args.workers)
            daily["projected_whole_period_seconds"] = daily["seconds"]
        else:
            # Two runs, n/2 and n steps: their difference is the cost of a step, the rest the
            # fixed cost of a replay (features, the audit of the whole history, the workers'
            # start), which a projection must not multiply.
            half = run(market, folder, "daily", args.workers, start=dates[-args.daily_steps // 2])
            daily = run(market, folder, "daily", args.workers, start=dates[-args.daily_steps])
            marginal = (daily["seconds"] - half["seconds"]) / (daily["steps"] - half["steps"])
            fixed = max(0.0, daily["seconds"] - marginal * daily["steps"])
            daily["marginal_seconds_per_step"] = round(marginal, 3)
            daily["fixed_seconds"] = round(fixed, 1)
            daily["projected_whole_period_seconds"] = round(fixed + marginal * all_daily, 1)
        daily["whole_period_steps"] = all_daily
        print(
            f"daily replay: {daily['steps']} steps in {daily['seconds']} s "
            f"({daily.get('marginal_seconds_per_step', daily['seconds_per_step'])} s per step, "
            f"{daily.get('fixed_seconds', 0)} s fixed; the whole period, {all_daily} steps: "
            f"{daily['projected_whole_period_seconds']} s; target 300 s)"
        )
        memory = {steps: peak_memory(steps) for steps in (10, 40)}
        print(f"peak memory: {memory[10]} MB after 10 daily steps, {memory[40]} MB after 40")
    path = save(
        "replay",
        {
            "workers": args.workers,
            "one_retrain_seconds": round(retrain, 2),
            "weekly": weekly,
            "daily": daily,
            "peak_rss_mb_by_steps": memory,
            "step_cost": costs,
        },
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
