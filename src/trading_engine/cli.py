"""The ``trading-engine`` command.

Exit codes: 0 success, 1 a failed or rejected run (or too few usable tickers), 2 a usage or
settings mistake. A mistake prints one line, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .config import Settings, get_settings
from .errors import ConfigError, TradingEngineError

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
    typer.Argument(help="Folder of TICKER.csv / TICKER.parquet files; omit for the demo market."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _print_json(payload: object) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def _load(settings: Settings, folder: Path | None):
    from .data import load_market

    return load_market(settings, folder=folder)


@data_app.command("check")
def data_check(path: PathArgument = None, as_json: JsonOption = False) -> None:
    """Validate a market folder and list every fault found, file by file."""
    settings = get_settings()
    market = _load(settings, path)
    report = market.report
    usable = len(market.histories)
    ok = usable >= settings.data.min_tickers
    if as_json:
        _print_json(
            {
                **report.to_dict(),
                "usable": usable,
                "min_tickers": settings.data.min_tickers,
                "ok": ok,
            }
        )
    else:
        if report.findings:
            table = Table(title=f"Data check: {path or 'demo market'}")
            for column in ("File", "Problem", "Detail", "Action"):
                table.add_column(column, overflow="fold")
            for finding in report.findings:
                style = "red" if finding.action.endswith("skipped") else None
                table.add_row(
                    finding.source, finding.problem, finding.detail, finding.action, style=style
                )
            console.print(table)
        else:
            console.print("No data faults found.")
        verdict = "[green]enough to train[/]" if ok else "[red]too few to train[/]"
        console.print(
            f"{usable} usable ticker(s), {len(report.skipped)} skipped; "
            f"minimum {settings.data.min_tickers}: {verdict}"
        )
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


@app.command("demo")
def demo(as_json: JsonOption = False) -> None:
    """Build the demo market's dataset and print a feature summary."""
    from .features import build_dataset

    settings = get_settings().model_copy(
        update={"data": get_settings().data.model_copy(update={"provider": "demo"})}
    )
    dataset = build_dataset(settings=settings)
    summary = dataset.summary()
    if as_json:
        _print_json(summary)
        return
    console.print(
        f"Demo market: {summary['tickers']} tickers, {summary['rows']} rows "
        f"({summary['labeled_rows']} labelled), {summary['first_date']} .. {summary['last_date']}, "
        f"label = close up after {summary['horizon']} trading days, "
        f"base rate {summary['base_rate']:.3f}"
    )
    table = Table(title="Features")
    for column in ("Feature", "Mean", "Std", "Min", "Max"):
        table.add_column(column, justify="right" if column != "Feature" else "left")
    for name, stats in summary["features"].items():
        table.add_row(name, *(f"{stats[key]:.4g}" for key in ("mean", "std", "min", "max")))
    console.print(table)


def main() -> None:
    """Console-script entry: run the app, turning our own errors into one line."""
    np.seterr(all="ignore")
    try:
        app(standalone_mode=True)
    except ConfigError as error:
        error_console.print(f"[red]error:[/] {error}")
        sys.exit(2)
    except TradingEngineError as error:
        error_console.print(f"[red]error:[/] {error}")
        sys.exit(1)


if __name__ == "__main__":
    main()
