"""Start-up and contention: the whole `trading-engine` process, as a user or a scheduler runs it.

1. Start-up: wall time (min of --repeat runs, interleaved) of `--help`, `--version`, `status
   --json`, `history --json`, `models --json` and `schedule --json` in a folder holding a
   deployed model, beside floors measured in the same run: the bare interpreter, and importing
   typer + rich (what any typer CLI pays before doing anything).
2. Retrain: `trading-engine retrain --force --json` on the demo market, 50 tickers x 1260 days
   (`TRADING_ENGINE_DATA__DEMO_DAYS=1260`), each run in a fresh folder (no champion), whole
   process: interpreter, imports, market, features, CV, final fit, holdout, skill bootstrap,
   deploy. Beside it, the usual stack of bench/retrain.py (pandas + `ta` + RandomForest,
   shuffled 5-fold CV, final fit) on the same market written as CSV files, also a whole
   process with its own imports (less the time it spends importing this package to reuse that
   code); and our retrain reading those same CSV files (`--data`).
3. Contention: two such retrains started at once vs one after the other (ratio of wall times,
   min of --pairs), with the short OpenMP spin this package sets (`GOMP_SPINCOUNT=1000`, see
   training/_lightgbm.py) and, as references, with threads that sleep at once
   (`OMP_WAIT_POLICY=PASSIVE`) and with libgomp's default spin (`GOMP_SPINCOUNT=300000`).

Every process finds its modules' bytecode already compiled, as a user's does after the first
run (the bench keeps that cache in its scratch folder); the first retrain, which compiles it,
is printed too.

Run: .venv/bin/python bench/startup.py [--repeat 7] [--retrains 3] [--pairs 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, write_demo_folder

SOURCE = Path(__file__).resolve().parents[1] / "src"  # time this checkout's code
CLI = [sys.executable, "-m", "trading_engine.cli"]
END, TICKERS, DAYS = "2026-11-24", 50, 1260
HELP_TARGET, READ_TARGET, SPEEDUP_TARGET, CONTENTION_TARGET = 0.3, 0.6, 20.0, 1.2
COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "status --json": ["status", "--json"],
    "history --json": ["history", "--json"],
    "models --json": ["models", "--json"],
    "schedule --json": ["schedule", "--json"],
}
FLOORS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import typer, rich": [sys.executable, "-c", "import typer, rich.console"],
}


def environment(scratch: Path, **extra: str) -> dict[str, str]:
    """The user's environment without our settings or OpenMP knobs, plus the demo market.

    Bytecode is cached, as it is for a user after the first run, but under ``scratch``: the
    bench writes nothing into the environment or the checkout, and works the same when
    PYTHONDONTWRITEBYTECODE is set (without a cache every process compiles every module).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADING_ENGINE_", "OMP_", "GOMP_", "PYTHONDONTWRITEBYTECODE"))
    }
    env.update(
        PYTHONPATH=str(SOURCE),
        PYTHONPYCACHEPREFIX=str(scratch / "pycache"),
        TRADING_ENGINE_DATA__PROVIDER="demo",
        TRADING_ENGINE_DATA__DEMO_DAYS=str(DAYS),
        TRADING_ENGINE_DATA__DEMO_END=END,
    )
    env.update(extra)
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def startup(workdir: Path, repeat: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Min and median wall time of each command, rounds interleaved so noise hits all alike."""
    commands = {**{k: CLI + v for k, v in COMMANDS.items()}, **FLOORS}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm the page cache; not measured
        run(command, workdir, env)
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(run(command, workdir, env)[0])
    return {
        name: {"min": min(values), "median": sorted(values)[len(values) // 2]}
        for name, values in times.items()
    }


def retrain(env: dict[str, str], scratch: Path, *args: str) -> subprocess.Popen:
    """`retrain --force --json` started in a fresh folder under ``scratch``."""
    folder = tempfile.mkdtemp(dir=scratch)
    return subprocess.Popen(
        [*CLI, "retrain", "--force", "--json", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"retrain exited {process.returncode}: {err[-2000:]}")
    return json.loads(out)


def retrains(count: int, env: dict[str, str], scratch: Path, *args: str) -> tuple[float, dict]:
    """Min wall time of ``count`` retrains, one at a time, and the last run's record."""
    best, record = float("inf"), {}
    for _ in range(count):
        start = time.perf_counter()
        record = finish(retrain(env, scratch, *args))
        best = min(best, time.perf_counter() - start)
    return best, record


def usual_child(folder: str, holdout_start: str) -> None:
    """In a fresh process: the usual stack's imports, then bench/retrain.py's usual()."""
    start = time.perf_counter()
    for name in ("pandas", "ta", "sklearn.ensemble", "sklearn.model_selection"):
        importlib.import_module(name)

    imports = time.perf_counter() - start
    start = time.perf_counter()
    from retrain import usual  # also imports this package: not the usual stack's cost

    ours_imports = time.perf_counter() - start
    seconds, metrics, _ = usual(Path(folder), holdout_start)
    print(json.dumps({"imports": imports, "ours_imports": ours_imports, "run": seconds, **metrics}))


def usual_stack(
    folder: Path, holdout_start: str, count: int, env: dict[str, str]
) -> tuple[float, dict]:
    """Min whole-process wall time of the usual stack, less its import of this package."""
    bench = str(Path(__file__).parent)
    warm_up = f"import sys; sys.path.insert(0, {bench!r}); import ta, sklearn.ensemble, retrain"
    run([sys.executable, "-c", warm_up], folder, env)  # compile its bytecode; not measured
    best, result = float("inf"), {}
    for _ in range(count):
        command = [sys.executable, __file__, "--usual", str(folder), holdout_start]
        wall, out = run(command, folder, env)
        result = json.loads(out)
        best = min(best, wall - result["ours_imports"])
    return best, result


def contention(pairs: int, env: dict[str, str], scratch: Path) -> dict[str, float]:
    """Min wall time of two retrains one after the other, and of two started at once."""
    sequential, together = float("inf"), float("inf")
    for _ in range(pairs):
        start = time.perf_counter()
        finish(retrain(env, scratch))
        finish(retrain(env, scratch))
        sequential = min(sequential, time.perf_counter() - start)
        start = time.perf_counter()
        first, second = retrain(env, scratch), retrain(env, scratch)
        finish(first)
        finish(second)
        together = min(together, time.perf_counter() - start)
    return {"sequential": sequential, "together": together, "ratio": together / sequential}


def verdict(value: float, target: float, *, at_most: bool = True) -> str:
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7, help="runs per start-up command")
    parser.add_argument("--retrains", type=int, default=3, help="runs per retrain figure")
    parser.add_argument("--pairs", type=int, default=3, help="pairs per contention figure")
    parser.add_argument("--usual", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.usual:
        usual_child(*args.usual)
        return
    facts = machine()
    load = os.getloadavg()[0]
    print(
        f"startup bench: whole processes; start-up min of {args.repeat} (interleaved); "
        f"retrain {TICKERS} tickers x {DAYS} days (demo market, fresh folder, no champion), "
        f"min of {args.retrains}; contention min of {args.pairs} pairs; {facts['cores']} cores, "
        f"load average {load:.1f} at start, {facts['versions']}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        ours_env = environment(scratch)
        # A folder with a deployed model. This first run compiles the bytecode of every module
        # a retrain imports, as the first run after an install does.
        workdir = scratch / "deployed"
        workdir.mkdir()
        start = time.perf_counter()
        first = finish(retrain(ours_env, workdir))
        cold = time.perf_counter() - start
        start_up = startup(workdir, args.repeat, ours_env)
        print("  start-up (s)                min  median  target")
        for name, figure in start_up.items():
            target = HELP_TARGET if name in ("--help", "--version") else READ_TARGET
            mark = f"<= {target}: {verdict(figure['min'], target)}" if name in COMMANDS else "floor"
            print(f"    {name:24s} {figure['min']:6.3f}  {figure['median']:6.3f}  {mark}")

        ours_s, ours_run = retrains(args.retrains, ours_env, scratch)
        market = scratch / "market"
        market.mkdir()
        write_demo_folder(market, TICKERS, DAYS)
        csv_s, _ = retrains(args.retrains, ours_env, scratch, "--data", str(market))
        holdout_start = first["metrics"]["holdout_start"]
        usual_s, usual = usual_stack(market, holdout_start, args.retrains, ours_env)
        speedup = usual_s / ours_s
        print(
            f"  retrain, whole process     trading-engine {ours_s:6.2f} s (the run itself "
            f"{ours_run['duration_seconds']:.2f} s), holdout AUC "
            f"{ours_run['metrics']['roc_auc']:.3f}"
        )
        print(f"    same market as CSV files trading-engine --data {csv_s:6.2f} s")
        print(f"    first run after install  {cold:6.2f} s (compiling every module's bytecode)")
        print(
            f"    pandas + ta + RF         {usual_s:6.2f} s (imports {usual['imports']:.2f} s, "
            f"run {usual['run']:.2f} s), holdout AUC {usual['roc_auc']:.3f}"
        )
        print(
            f"    speed-up {speedup:.1f}x (target >= {SPEEDUP_TARGET:.0f}x: "
            f"{verdict(speedup, SPEEDUP_TARGET, at_most=False)}); from the CSV files "
            f"{usual_s / csv_s:.1f}x"
        )

        ours = contention(args.pairs, ours_env, scratch)
        passive = contention(1, environment(scratch, OMP_WAIT_POLICY="PASSIVE"), scratch)
        spinning = contention(1, environment(scratch, GOMP_SPINCOUNT="300000"), scratch)
    print("  two retrains               one after the other  at once  ratio")
    references = (
        ("short spin (ours)", ours),
        ("PASSIVE", passive),
        ("libgomp default spin", spinning),
    )
    for name, figure in references:
        print(
            f"    {name:24s} {figure['sequential']:8.2f} s  {figure['together']:7.2f} s  "
            f"{figure['ratio']:.2f}x"
        )
    print(
        f"    target <= {CONTENTION_TARGET}x: {verdict(ours['ratio'], CONTENTION_TARGET)}; "
        f"one retrain alone took {ours['sequential'] / 2:.2f} s with the short spin, "
        f"{passive['sequential'] / 2:.2f} s with PASSIVE, "
        f"{spinning['sequential'] / 2:.2f} s with the default spin"
    )
    path = save(
        "startup",
        {
            "repeat": args.repeat,
            "retrains": args.retrains,
            "pairs": args.pairs,
            "tickers": TICKERS,
            "days": DAYS,
            "load_average_at_start": load,
            "startup_seconds": start_up,
            "retrain_seconds": ours_s,
            "retrain_run_seconds": ours_run["duration_seconds"],
            "retrain_csv_seconds": csv_s,
            "retrain_first_run_seconds": cold,
            "retrain_holdout": ours_run["metrics"],
            "usual_seconds": usual_s,
            "usual": usual,
            "speedup": speedup,
            "contention_short_spin": ours,
            "contention_passive": passive,
            "contention_default_spin": spinning,
        },
    )
    print(f"  figures in {path.relative_to(Path(__file__).parent.parent)}")


if __name__ == "__main__":
    main()
