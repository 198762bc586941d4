"""The ``trading-engine`` command.

Exit codes: 0 success, 1 a failed or rejected run (or too few usable tickers), 2 a usage or
settings mistake. A mistake prints one line, never a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import AlreadyRunning, NoProductionModel, TradingEngineError, describe

# Each command imports what it uses, in its body: `--help` and the read commands (status,
# history, models, schedule) start without numpy, pandas, LightGBM or the web stack.
if TYPE_CHECKING:
    from .config import Settings
    from .records import LookaheadFindingRecord, RunRecord
    from .training.lookahead import LookaheadFinding

app = typer.Typer(
    help="Keep a stock-direction model fresh: data, features, retraining, deployment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect market data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()
error_console = Console(stderr=True)

PathArgument = Annotated[
    Path | None,
    typer.Argument(
        help="Folder of TICKER.csv / TICKER.parquet files; omit for the configured provider "
        "(data.provider: the demo market unless set)."
    ),
]
# metavar="": a flag takes no value, and the help must not suggest `--json <bool>`.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.", metavar="")]

READ_COMMANDS = frozenset({"status", "history", "models", "schedule", "monitor"})


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"trading-engine {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # Commands that compute never print numpy's floating-point warnings; the read commands
    # do not import numpy at all.
    if ctx.invoked_subcommand not in READ_COMMANDS:
        import numpy as np

        np.seterr(all="ignore")


def get_settings() -> Settings:
    """The settings, imported on first use (`--help` and `--version` never need pydantic)."""
    from .config import get_settings as settings

    return settings()


def _print_json(payload: object) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def _load(settings: Settings, folder: Path | None):
    from .model_retraining import load_training_market

    return load_training_market(settings, folder=folder)


@data_app.command("check")
def data_check(path: PathArgument = None, as_json: JsonOption = False) -> None:
    """Validate a market folder and list every fault found, file by file; check that the
    labelled dates hold the holdout, the purges and the walk-forward folds; audit the raw
    columns for look-ahead (exit 1 when too few tickers are usable, the pre-flight fails or a
    column leaks)."""
    from .data.market import NOTHING_LOADED
    from .training.lookahead import Thresholds, audit_inputs, raw_column
    from .training.preflight import preflight_market

    settings = get_settings()
    market = _load(settings, path)
    report = market.report
    usable = len(market.histories)
    check = preflight_market(market, settings.retraining)
    enough = usable >= settings.data.min_tickers
    retraining = settings.retraining
    lookahead = audit_inputs(
        market.histories, retraining.horizon, Thresholds.from_settings(retraining)
    )
    ok = enough and check.fits and lookahead.passed
    if as_json:
        _print_json(
            {
                **report.to_dict(),
                "usable": usable,
                "min_tickers": settings.data.min_tickers,
                "preflight": check.to_json(),
                "lookahead": lookahead.to_dict(),
                "ok": ok,
            }
        )
    else:
        if report.findings:
            table = Table(title=f"Data check: {escape(str(path or 'demo market'))}")
            for column in ("File", "Problem", "Detail", "Action"):
                table.add_column(column, overflow="fold")
            for finding in report.findings:
                dropped = finding.action.endswith("skipped") or finding.action == NOTHING_LOADED
                cells = (finding.source, finding.problem, finding.detail, finding.action)
                table.add_row(*map(escape, cells), style="red" if dropped else None)
            console.print(table)
        else:
            console.print("No data faults found.")
        verdict = "[green]enough to train[/]" if enough else "[red]too few to train[/]"
        console.print(
            f"{usable} usable ticker(s), {len(report.skipped)} skipped; "
            f"minimum {settings.data.min_tickers}: {verdict}"
        )
        colour = "green" if check.fits else "red"
        console.print(f"[{colour}]pre-flight:[/] {escape(check.summary)}", soft_wrap=True)
        _print_lookahead(lookahead.findings)
        checked = ", ".join(sorted({raw_column(a.name) for a in lookahead.associations}))
        if lookahead.passed and checked:
            console.print(f"look-ahead audit: no leak in {checked}")
    if not ok:
        raise typer.Exit(1)


@app.command("features")
def features_command(
    path: PathArgument = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv or .parquet.")] = Path(
        "features.parquet"
    ),
) -> None:
    """Write date, ticker, every feature and the label for each row to a file."""
    from .features import dataset_from_market

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(
            f"must end in .csv or .parquet, got {out.name!r}", param_hint="--out"
        )
    settings = get_settings()
    from .data import require_enough

    market = require_enough(_load(settings, path), settings.data.min_tickers)
    dataset = dataset_from_market(
        market, horizon=settings.retraining.horizon, features=settings.retraining.features
    )
    _write_rows(dataset, out)
    console.print(f"wrote {len(dataset)} rows x {len(dataset.feature_names)} features to {out}")


def _write_rows(dataset, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    columns = {
        "date": pa.array(dataset.dates),
        "ticker": pa.DictionaryArray.from_arrays(
            pa.array(dataset.ticker_codes), pa.array(dataset.ticker_names)
        ),
    }
    for index, name in enumerate(dataset.feature_names):
        columns[name] = pa.array(dataset.X[:, index])
    columns["label"] = pa.array(dataset.y, from_pandas=True)  # NaN -> null: no label yet
    table = pa.table(columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        pq.write_table(table, out)
    else:
        table = table.set_column(1, "ticker", table.column("ticker").cast(pa.string()))
        pa_csv.write_csv(table, out)


def _settings_for(data: Path | None = None, *, demo: bool = False) -> Settings:
    settings = get_settings()
    if demo:
        return settings.model_copy(
            update={"data": settings.data.model_copy(update={"provider": "demo"})}
        )
    # pyarrow (under data.folder) is imported only when a folder is read.
    if data is not None:
        from .data.folder import check_folder

        check_folder(data, "--data")  # a data-location mistake: one line, exit 2, no run
        return settings.model_copy(
            update={"data": settings.data.model_copy(update={"provider": "csv", "folder": data})}
        )
    if settings.data.provider in ("csv", "parquet") and settings.data.folder is not None:
        from .data.folder import check_folder

        check_folder(settings.data.folder, "data.folder")
    return settings


def _service(settings: Settings | None = None, data: Path | None = None):
    from .logging_setup import configure_logging
    from .model_retraining import ModelRetrainingService

    settings = settings or get_settings()
    configure_logging(settings.paths.logs_dir)
    if data is None:
        return ModelRetrainingService(settings)
    from .model_retraining import load_training_market

    return ModelRetrainingService(
        settings,
        load=lambda s, today, *, tickers=None: load_training_market(
            s, today, folder=data, tickers=tickers
        ),
    )


def _fmt(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def _print_findings(run: RunRecord) -> None:
    """The data faults that changed this run, above its metrics."""
    if run.data:
        console.print(f"data: {run.data.describe()}", highlight=False, soft_wrap=True)
    if not run.findings:
        return
    table = _narrow_table(f"Data findings that shaped this run ({len(run.findings)})")
    for column in ("File", "Problem", "Detail", "Action"):
        table.add_column(column, no_wrap=column != "Detail", overflow="fold")
    for finding in run.findings:
        table.add_row(
            escape(finding.source), finding.problem, escape(finding.detail), finding.action
        )
    console.print(table)


def _print_lookahead(findings: Sequence[LookaheadFinding | LookaheadFindingRecord]) -> None:
    """Each look-ahead finding on its own line, leaks first, with why."""
    for finding in sorted(findings, key=lambda finding: not finding.leak):
        label = "[red]look-ahead leak[/]" if finding.leak else "[yellow]look-ahead warning[/]"
        console.print(f"{label} {escape(finding.message())}", highlight=False, soft_wrap=True)


def _print_run(run: RunRecord) -> None:
    _print_findings(run)
    metrics = run.metrics.to_json() if run.metrics else {}
    previous = run.previous_metrics.to_json() if run.previous_metrics else {}
    if metrics:
        table = Table(title="Holdout metrics (newest dates, never trained on)")
        for column in ("Metric", "Candidate", "Production (recorded)"):
            table.add_column(column, justify="left" if column == "Metric" else "right")
        for key in (
            "f1_score",
            "accuracy",
            "precision",
            "recall",
            "roc_auc",
            "log_loss",
            "brier",
            "base_rate",
            "baseline_accuracy",
            "cv_mean",
            "cv_std",
        ):
            table.add_row(key, _fmt(metrics.get(key)), _fmt(previous.get(key)))
        console.print(table)
        console.print(
            f"train {metrics.get('train_start')} .. {metrics.get('train_end')}, holdout "
            f"{metrics.get('holdout_start')} .. {metrics.get('holdout_end')} "
            f"({metrics.get('holdout_rows')} rows, purge gap {metrics.get('purge_gap_days')} days)"
        )
    if run.comparison:
        console.print(f"champion vs challenger: {run.comparison.source} - {run.comparison.reason}")
    gates = run.gates.gates if run.gates else []
    if gates:
        table = Table(title="Gates")
        for column in ("Gate", "Value", "Rule", "Threshold", "Result"):
            table.add_column(column)
        for gate in gates:
            verdict = "[green]pass[/]" if gate.passed else "[red]FAIL[/]"
            table.add_row(gate.name, _fmt(gate.value), gate.rule, _fmt(gate.threshold), verdict)
        console.print(table)
        level = run.gates.repeated_testing if run.gates else None
        profile = run.gates.profile if run.gates else None
        if profile or level:
            why = f"; skill level p < {level.effective_alpha:.4f}: {level.reason}" if level else ""
            console.print(escape(f"gate profile {profile}{why}"), soft_wrap=True)
    _print_lookahead(run.lookahead.findings if run.lookahead else [])
    colour = {"deployed": "green", "rejected": "yellow"}.get(run.outcome, "red")
    version = f" as version {run.version}" if run.version else ""
    # The reason may quote file names and headers from the data: never read it as markup.
    console.print(
        f"[{colour}]{run.outcome}[/]{version}: {escape(run.reason or '')}", soft_wrap=True
    )


def _run_with_progress(service, *, force: bool, full: bool) -> RunRecord:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,  # no bar (nor its refresh thread) in logs
    ) as bar:
        task = bar.add_task("retraining", total=1)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        return service.run_retrain(force=force, full=full, progress=progress)


def _finish(run: RunRecord, as_json: bool) -> None:
    if as_json:
        _print_json(run.to_json())
    else:
        _print_run(run)
    if run.outcome != "deployed":
        raise typer.Exit(1)


@app.command("demo")
def demo(as_json: JsonOption = False) -> None:
    """Retrain and deploy on the built-in demo market, then print the metrics and gates."""
    settings = _settings_for(demo=True)
    service = _service(settings)
    if not as_json:
        console.print(
            f"Demo market: {len(settings.market.default_stocks)} tickers, "
            f"{settings.data.demo_days} business days; models in {settings.paths.models_dir}/"
        )
    _finish(_run_with_progress(service, force=False, full=False), as_json)


@app.command("retrain")
def retrain(
    force: Annotated[
        bool, typer.Option("--force", help="Deploy even if gates fail.", metavar="")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Re-tune hyperparameters first.", metavar="")
    ] = False,
    data: Annotated[Path | None, typer.Option("--data", help="Folder of ticker files.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Retrain now: load, train, validate, deploy only if every gate passes."""
    settings = _settings_for(data)
    _finish(_run_with_progress(_service(settings, data), force=force, full=full), as_json)


@app.command("replay")
def replay(
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder of ticker files (default: configured).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First step date (default: first trainable).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last date replayed (default: newest data).")
    ] = None,
    every: Annotated[
        str, typer.Option("--every", help="Retrain daily, weekly or monthly.")
    ] = "weekly",
    full_every: Annotated[
        int,
        typer.Option("--full-every", help="Every Nth step re-tunes hyperparameters (0: never)."),
    ] = 0,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes training candidates in parallel.")
    ] = 1,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Train candidates on a Dask cluster, e.g. tcp://host:8786."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write summary, predictions, step log, HTML report, PNGs."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the retraining policy over history with a simulated clock, against baselines."""
    import tempfile

    from .errors import ConfigError

    if every not in ("daily", "weekly", "monthly"):
        raise ConfigError(f"--every: {every!r} is not one of daily, weekly, monthly")
    if workers < 1:
        raise ConfigError(f"--workers: {workers} must be at least 1")
    if full_every < 0:
        raise ConfigError(f"--full-every: {full_every} must be 0 (never) or more")
    if dask is not None and not dask.startswith(("tcp://", "tls://", "inproc://", "ws://")):
        raise ConfigError(f"--dask: {dask!r} is not a scheduler address like tcp://host:8786")
    first, last = _day_option("--start", start), _day_option("--end", end)
    if first is not None and last is not None and last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a folder")
    settings = _settings_for(data)
    from .service.replay import load_replay_market, refuse_models_folder
    from .service.replay_summary import summarise

    if out is not None:
        refuse_models_folder(settings, out, "--out")
    market, changes = load_replay_market(settings, folder=data, end=last)
    with tempfile.TemporaryDirectory(prefix="replay-") as scratch:
        store = (out / "store") if out is not None else Path(scratch) / "store"
        result = _replay_with_progress(
            settings,
            market,
            store,
            every=every,
            start=first,
            end=last,
            full_every=full_every,
            workers=workers,
            dask_address=dask,
            regime_changes=changes,
        )
        summary = summarise(result)
        if out is not None:
            from .service.replay_report import write_outputs

            write_outputs(result, summary, out)
        else:
            summary["outputs"] = {}
    if as_json:
        _print_json(summary)
        return
    _print_replay(summary)


def _day_option(name: str, value: str | None):
    if value is None:
        return None
    import numpy as np

    from .errors import ConfigError

    try:
        return np.datetime64(value, "D")
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date like 2024-01-31") from None


def _replay_with_progress(settings: Settings, market, store: Path, **options):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .service.replay import run_replay

    with Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,  # no bar (nor its refresh thread) in logs
    ) as bar:
        task = bar.add_task("replay", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_replay(settings, market, store, progress=progress, **options)


def _print_replay(summary: dict) -> None:
    policy = summary["policy"]
    console.print(
        f"replay: {summary['steps']} {summary['every']} steps {summary['start']} .. "
        f"{summary['end']}, {policy['deployments']} deployed, {policy['rejections']} rejected "
        f"({summary['seconds']} s)",
        highlight=False,
    )
    table = Table(title="Realised, on the days each model served")
    for column in ("Policy", "AUC", "Accuracy", "Brier", "PT p", "Rows", "Policy - it (acc, 95 %)"):
        table.add_column(column, justify="left" if column == "Policy" else "right")
    rows = [("policy", policy["metrics"], None)] + [
        (name, value["metrics"], value["policy_minus_baseline"].get("accuracy"))
        for name, value in summary["baselines"].items()
    ]
    for name, metrics, versus in rows:
        interval = (
            f"{versus['difference']:+.3f} [{versus['ci_low']:+.3f}, {versus['ci_high']:+.3f}]"
            if versus and versus["ci_low"] is not None
            else ""
        )
        table.add_row(
            name,
            _fmt(metrics["roc_auc"], 3),
            _fmt(metrics["accuracy"], 3),
            _fmt(metrics["brier"], 3),
            _fmt(metrics["pt_p_value"], 3),
            _fmt(metrics["rows"]),
            interval,
        )
    console.print(table)
    for change in summary.get("regime_changes", []):
        text = (
            f"recovered at step {change['recovery_step']} ({change['recovery_date']}, "
            f"{change['business_days_to_recover']} business days later)"
            if change.get("recovered")
            else "no recovery within the replay"
        )
        console.print(f"regime change {change['date']}: {text}", highlight=False)
    for name, path in summary.get("outputs", {}).items():
        console.print(f"{name}: {path}", highlight=False)


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Production version, current metrics, last run and next scheduled run."""
    info = _service().get_status()
    if as_json:
        _print_json(info)
        return
    last = info["last_run"] or {}
    console.print(f"production version: {info['production_version'] or 'none yet'}")
    console.print(f"backup version: {info['backup_version'] or 'none'}")
    console.print(f"model: {info['model_path']}  backup: {info['backup_path']}")
    metrics = info["current_metrics"]
    if metrics:
        console.print("metrics: " + ", ".join(f"{k} {_fmt(v, 3)}" for k, v in metrics.items()))
    if last:
        console.print(
            f"last run: {last.get('outcome')} at {last.get('started_at')} ({last.get('reason')})"
        )
    console.print(f"next retraining: {info['next_retraining']}")


def _production(service):
    stored = service.production_model()
    if stored is None:
        raise NoProductionModel("no production model yet; run `trading-engine retrain` first")
    return stored


@app.command("info")
def info(as_json: JsonOption = False) -> None:
    """The production model: version, features, training range, metrics."""
    service = _service()
    stored = _production(service)
    model = stored.model
    payload = {
        "model_path": str(service.registry.prod_path),
        "backup_path": str(service.registry.backup_path),
        "version": stored.version,
        "features": list(model.feature_names),
        "feature_count": len(model.feature_names),
        "train_start": model.train_start,
        "train_end": model.train_end,
        "horizon": model.horizon,
        "metrics": model.metrics,
        "data": stored.metadata.get("data_source"),
    }
    if as_json:
        _print_json(payload)
        return
    console.print(
        f"version {stored.version}, trained {model.train_start} .. {model.train_end}, "
        f"horizon {model.horizon} days"
    )
    if payload["data"]:
        from .records import DataRecord

        console.print(f"data: {DataRecord.model_validate(payload['data']).describe()}")
    console.print(f"features ({len(model.feature_names)}): {', '.join(model.feature_names)}")
    console.print(
        "metrics: "
        + ", ".join(
            f"{k} {_fmt(model.metrics.get(k), 3)}" for k in ("f1_score", "accuracy", "roc_auc")
        )
    )


@app.command("history")
def history(
    limit: Annotated[int, typer.Option(min=1, help="Runs per page.")] = 20,
    offset: Annotated[int, typer.Option(min=0, max=1_000_000_000, help="Newest runs to skip.")] = 0,
    outcome: Annotated[
        str | None, typer.Option(help="Only deployed, rejected, failed, interrupted...")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every retrain run, deployed, rejected or failed, newest first (paged)."""
    total, page = _service().registry.history(limit, offset, outcome)
    runs = [run.to_json() for run in page]
    if as_json:
        _print_json({"total": total, "limit": limit, "offset": offset, "items": runs})
        return
    table = _narrow_table(f"Retrain history ({offset + 1}-{offset + len(runs)} of {total})")
    table.add_column("Started", no_wrap=True)
    table.add_column("Trigger", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Acc.", no_wrap=True, justify="right")
    table.add_column("Reason", overflow="fold", ratio=1)
    for run in runs:
        metrics = run.get("metrics") or {}
        table.add_row(
            str(run.get("started_at", ""))[:16].replace("T", " "),
            str(run.get("trigger", "")).removeprefix("scheduled-"),
            run.get("outcome", ""),
            run.get("version") or "-",
            _fmt(metrics.get("accuracy"), 3),
            escape(run.get("reason") or ""),
        )
    console.print(table)


def _narrow_table(title: str) -> Table:
    """A table that fits 80 columns: a rule under the header, no side borders."""
    from rich import box

    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False)


@app.command("models")
def models(as_json: JsonOption = False) -> None:
    """Every stored model version (newest first) and which is production or backup."""
    service = _service()
    versions = [info.to_json() for info in service.registry.versions()]
    if as_json:
        _print_json(versions)
        return
    table = _narrow_table("Model versions")
    for column in ("Version", "Role", "Trained", "F1", "Acc.", "Notes"):
        table.add_column(column, no_wrap=column != "Notes")
    for item in versions:
        table.add_row(
            item["version"],
            item["role"] or "",
            f"{item['train_start']}..{item['train_end']}",
            _fmt(item["metrics"]["f1_score"], 3),
            _fmt(item["metrics"]["accuracy"], 3),
            ", ".join(
                note
                for note, applies in (("forced", item["forced"]), ("CORRUPT", not item["verified"]))
                if applies
            ),
        )
    console.print(table)


@app.command("rollback")
def rollback(
    to: Annotated[str | None, typer.Option("--to", help="Version id; default: the backup.")] = None,
    expected: Annotated[
        str | None,
        typer.Option("--expected-version", help="Only if this version is still production."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Put the backup model (or --to VERSION) back into production."""
    result = _service().rollback(to, expected_version=expected)
    if as_json:
        _print_json(result.to_json())
    else:
        console.print(result.message)


@app.command("predict")
def predict(
    tickers: Annotated[list[str], typer.Argument(help="Tickers to predict, e.g. AAPL MSFT.")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder of ticker files; default: the data production was trained on.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Probability that each ticker closes higher after the horizon, from its latest bar."""
    service = _service()
    _production(service)
    served = service.predictor(data).predict(tickers)
    _log_served(service, served, "cli")
    predictions = [p.to_json() for p in served]
    if as_json:
        _print_json(predictions)
        return
    for item in predictions:
        if item["warning"]:
            error_console.print(f"[yellow]warning:[/] {item['ticker']}: {item['warning']}")
    table = Table(title=f"Predictions (model {predictions[0]['model_version']})")
    for column in ("Ticker", "P(up)", "Direction", "As of", "Horizon"):
        table.add_column(column)
    for item in predictions:
        table.add_row(
            item["ticker"],
            f"{item['probability_up']:.3f}",
            item["direction"],
            item["as_of"],
            f"{item['horizon_days']} days",
        )
    console.print(table)


def _log_served(service, served, origin: str) -> None:
    """Into the prediction log; a store that cannot be written never fails a prediction."""
    from .errors import StoreUnavailable

    try:
        service.monitor.log_served(served, origin)
    except StoreUnavailable as error:
        error_console.print(f"[yellow]warning:[/] prediction not logged: {escape(str(error))}")


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], low: float = 0.0, high: float = 1.0) -> str:
    """One character per value, ``low`` to ``high``; a gap (space) where a value is missing."""
    span = (high - low) or 1.0
    return "".join(
        " "
        if value is None
        else SPARKS[min(len(SPARKS) - 1, max(0, int((value - low) / span * len(SPARKS))))]
        for value in values
    )


@app.command("monitor")
def monitor(
    as_json: JsonOption = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Realised metrics of as-of dates from DATE on.")
    ] = None,
    backfill: Annotated[
        str | None,
        typer.Option(
            "--backfill",
            help="Log what production and its shadow would have predicted on each date since "
            "START, from the data on disk (kept apart from live rows).",
            metavar="START",
        ),
    ] = None,
    run_now: Annotated[
        bool,
        typer.Option(
            "--run",
            help="Do the daily monitoring job now: log, join outcomes, drift, policies.",
            metavar="",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Run as if it were DATE, 22:30 UTC (the demo market ends there; a replay of "
            "the daily job, one day at a time).",
            metavar="DATE",
        ),
    ] = None,
) -> None:
    """How production really does: realised metrics, shadow, drift, freshness, actions."""
    for value, option in ((since, "--since"), (backfill, "--backfill"), (as_of, "--as-of")):
        if value is not None:
            _check_date(value, option)
    service = _service()
    if as_of is not None:
        from datetime import UTC, datetime

        from .model_retraining import ModelRetrainingService

        moment = datetime.fromisoformat(f"{as_of}T22:30:00").replace(tzinfo=UTC)
        service = ModelRetrainingService(service.settings, clock=lambda: moment)
    if backfill is not None:
        import numpy as np

        np.seterr(all="ignore")
        done = service.monitor.backfill(backfill)
        if as_json:
            _print_json(done)
        else:
            first = ", ".join(f"{v} from {d or 'no date'}" for v, d in done["from"].items())
            console.print(
                f"backfilled {done['rows']} prediction(s) ({done['new']} new; {first}); "
                f"{done['outcomes']} outcome(s) joined; see `monitor --since {backfill}` "
                "for live rows, the API's /api/ml/monitoring/VERSION for backfilled ones"
            )
        return
    if run_now or since is not None:
        import numpy as np

        np.seterr(all="ignore")
    from .monitoring.report import monitoring_payload

    payload = monitoring_payload(service, since=since, run_now=run_now)
    if as_json:
        _print_json(payload)
        return
    _print_monitoring(payload)


def _check_date(value: str, option: str) -> None:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date like 2026-01-31, got {value!r}", param_hint=option
        ) from None


def _print_monitoring(payload: dict) -> None:
    console.print(
        f"production: {payload['production_version'] or 'none yet'}  "
        f"shadow: {payload['shadow_version'] or 'none'}"
    )
    counts = payload["counts"]
    if payload["empty"]:
        console.print(payload["message"], soft_wrap=True)
        return
    console.print(
        f"predictions logged: {counts['live']} live ({counts['with_outcome']} with outcome, "
        f"{counts['pending']} waiting), {counts['backfill']} backfilled; "
        f"report of {payload.get('snapshot_at') or 'never (run `monitor --run`)'}"
    )
    by_version = payload.get("by_version") or {}
    windows = payload.get("windows") or {}
    if by_version or windows:
        table = _narrow_table("Realised metrics")
        table.padding = 0  # the box puts one space between columns: nine fit in 80
        for column in ("Rows of", "Rows", "Dates", "Acc.", "AUC", "Brier", "vs up", "vs base"):
            table.add_column(
                column, no_wrap=True, justify="left" if column == "Rows of" else "right"
            )
        table.add_column("PT p", no_wrap=True, justify="right")
        labelled = [(f"last {w} dates", m) for w, m in windows.items()]
        # Production, its shadow and the newest few others; every version is in --json.
        current = {payload["production_version"], payload["shadow_version"]}
        newest = sorted(by_version, reverse=True)
        shown = sorted(
            [v for v in newest if v in current] + [v for v in newest if v not in current][:5]
        )
        labelled += [
            (f"{v} {_ROLE_TAGS[_role(payload, v)]}".rstrip(), by_version[v]) for v in shown
        ]
        if len(shown) < len(by_version):
            table.caption = f"{len(by_version) - len(shown)} older version(s): monitor --json"
        for label, m in labelled:
            table.add_row(
                label,
                str(m["rows"]),
                str(m["dates"]),
                _fmt(m["accuracy"], 3),
                _fmt(m["roc_auc"], 3),
                _fmt(m["brier"], 3),
                _signed(m["edge_vs_always_up"]),
                _signed(m["edge_vs_training_majority"]),
                _fmt(m["pt_p_value"], 3),
            )
        console.print(table)
    comparison = payload.get("comparison")
    if comparison and comparison.get("rows"):
        test = comparison["test"]
        console.print(
            f"same {comparison['rows']} rows: production "
            f"{_fmt(comparison['production']['accuracy'], 3)} vs shadow "
            f"{_fmt(comparison['shadow']['accuracy'], 3)}; difference "
            f"{_signed(test['difference'])}, p {_fmt(test['p_value'], 3)} over {test['blocks']} "
            f"block(s){' [red]SIGNIFICANTLY WORSE[/]' if test['significant'] else ''}"
        )
    claim = payload.get("claim")
    if claim:
        test = claim["test"]
        console.print(
            f"claim: holdout accuracy {_fmt(claim['claimed_accuracy'], 3)}, realised "
            f"{_fmt(claim['realised_accuracy'], 3)} (p {_fmt(test['p_value'], 3)})"
            f"{' [red]SIGNIFICANTLY BELOW[/]' if test['significant'] else ''}"
        )
    series = payload.get("series") or []
    if series:
        console.print(
            f"daily accuracy {series[0]['as_of']} .. {series[-1]['as_of']} (0 to 1):",
            highlight=False,
        )
        console.print(f"  production {sparkline([p['production_accuracy'] for p in series])}")
        console.print(f"  shadow     {sparkline([p['shadow_accuracy'] for p in series])}")
    drift = payload.get("drift")
    if drift:
        table = _narrow_table(
            f"Drift: {drift['recent_start']}..{drift['recent_end']} against the training window "
            f"{drift['reference_start']}..{drift['reference_end']}"
        )
        for column in ("Feature", "PSI", "Test", "Statistic", "p", "Drifted"):
            table.add_column(column, no_wrap=True)
        for feature in drift["features"]:
            table.add_row(
                feature["feature"],
                _fmt(feature["psi"], 3),
                feature["test"],
                _fmt(feature["statistic"], 3),
                _fmt(feature["p_value"], 3),
                "[red]yes[/]" if feature["drifted"] else "no",
            )
        console.print(table)
        console.print(
            f"drift: {drift['drifted_features']} of {len(drift['features'])} features "
            f"({'[red]drift[/]' if drift['drift'] else 'no drift'}); predicted up "
            f"{_fmt(drift['predicted_up'], 3)} against a training base rate "
            f"{_fmt(drift['training_base_rate'], 3)}"
        )
    freshness = payload.get("freshness")
    if freshness:
        stale = " [red]STALE[/]" if freshness["stale"] else ""
        console.print(
            f"data: newest bar {freshness['newest_bar']}, {freshness['age_days']} business "
            f"day(s) old{stale}"
        )
    if payload.get("retrains_paused_at"):
        console.print(
            f"[yellow]scheduled retrains paused[/] until a bar newer than "
            f"{payload['retrains_paused_at']} arrives"
        )
    for event in payload.get("events") or []:
        console.print(
            f"{event['at'][:16].replace('T', ' ')} {event['kind']}: {escape(event['reason'])}",
            highlight=False,
            soft_wrap=True,
        )


_ROLE_TAGS = {"production": "prod", "shadow": "shadow", "earlier": ""}


def _role(payload: dict, version: str) -> str:
    if version == payload["production_version"]:
        return "production"
    return "shadow" if version == payload["shadow_version"] else "earlier"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port, 1-65535 (default 8000).")] = None,
) -> None:
    """Serve the REST API with the retraining scheduler."""
    from .errors import ConfigError
    from .server import serve as run_server

    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port; expected 1-65535")
    run_server(host, port)


@app.command("schedule")
def schedule(as_json: JsonOption = False) -> None:
    """When the next daily and weekly retrains will run."""
    service = _service()
    daily, weekly = service.triggers()
    now = service.clock().astimezone()
    upcoming = {
        "daily_retrain": _fmt(daily.get_next_fire_time(None, now)),
        "weekly_full_retrain": _fmt(weekly.get_next_fire_time(None, now)),
        "catch_up": service.missed_run(),
    }
    if as_json:
        _print_json(upcoming)
        return
    console.print(f"daily retrain:       {upcoming['daily_retrain']}")
    console.print(f"weekly full retrain: {upcoming['weekly_full_retrain']}")
    if upcoming["catch_up"]:
        console.print(
            f"a {upcoming['catch_up']} run was missed and will run once when the server starts"
        )


def run(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code, turning our own errors into one line.

    The exit code comes from ``errors.ERROR_TABLE``: 1 a failed or refused action, 2 a usage,
    settings or data-location mistake.
    """
    try:
        app(args=argv, prog_name="trading-engine", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except TradingEngineError as error:
        label = "already running" if isinstance(error, AlreadyRunning) else "error"
        error_console.print(
            f"[red]{label}:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        return describe(error).exit_code
    return 0


def main() -> None:
    """Console-script entry.

    Once the command is done and no other thread is left, the process ends without tearing
    its interpreter down: freeing every object and module of a process that imported numpy,
    LightGBM and pydantic takes about a tenth of a second the user would wait for. Output
    is flushed and the exit handlers (logging's flush among them) run first, as a normal
    exit would. A command that leaves a thread running (none should), or a process being
    profiled or traced (``python -m cProfile``, which writes its figures after this returns),
    exits the normal way.
    """
    code = run()
    if threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a closed pipe (| head): nothing more to write
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
