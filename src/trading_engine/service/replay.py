"""Replay: the retraining policy itself, run over history with a simulated clock.

    features and look-ahead audit once (full history) -> step dates
    -> candidates (parallel: pool or Dask; a full step's tuning trials too)
    -> decision chain in date order (the live pipeline's judge and deploy, isolated store)
    -> production of each trading day predicts every ticker -> scored once labels exist

At each step date the candidate is trained by the service's own ``prepare_candidate`` on the
market cut at that date; its rows are the features computed once on the whole history and
masked by date (features are point in time: ``tests/features/test_point_in_time.py``), with
every label that ends after the step removed. The bin edges, the folds, the early stopping and
any tuning therefore see only data up to the step. The model is the one a live retrain on the
cut would deploy; a step skips only what a replay never uses (``train_step``). The decision
(gates against the simulated production, deploy or reject) is ``run_retrain``'s, into a store
of its own, never the configured ``models/``.

The first step deploys whatever the gates say (a forced initial deployment, as a person would
start the service): production must exist for the policy to be scored at all.

Baselines are scored on the same rows: ``never_retrain`` (the first model kept),
``always_deploy`` (the newest candidate, no gates), ``always_up`` and ``train_base_rate``
(the probability of "up" in the newest candidate's training labels).
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..config import Settings
from ..cores import available_cores
from ..data.market import MarketData, PriceHistory, QualityReport, as_day
from ..data.providers import period_start
from ..errors import ConfigError, DataError, TradingEngineError
from ..features import dataset_from_market
from ..features.catalogue import feature_window
from ..features.dataset import Dataset
from ..records import RunRecord
from ..store import ModelRegistry
from ..training.lookahead import LookaheadAudit, Thresholds, audit_retrain
from ..training.model import StoredModel, decode_model
from ..training.preflight import needed_dates
from ..training.trainer import Candidate
from ..training.tuning import TrialEvaluator, TrialLoss, search
from .pipeline import PreparedCandidate, prepare_candidate, run_retrain

logger = logging.getLogger(__name__)

Every = Literal["daily", "weekly", "monthly"]
EVERY: tuple[str, ...] = ("daily", "weekly", "monthly")
BASELINES = ("never_retrain", "always_deploy", "always_up", "train_base_rate")
StepProgress = Callable[[int, int], None]  # (steps done, steps in all)


def no_step_progress(done: int, total: int) -> None:
    return None


# -- what each step sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayContext:
    """The whole history and its rows, built once; cut at any step date on demand.

    Shipped once to each worker (a pool's initializer, a Dask scatter), never per step.
    """

    settings: Settings
    market: MarketData
    dataset: Dataset
    audit: LookaheadAudit | None  # the look-ahead audit of the whole history, run once

    @classmethod
    def build(cls, settings: Settings, market: MarketData) -> ReplayContext:
        """Features of the whole history, and its look-ahead audit when the gate is on.

        One audit covers every step: its point-in-time check recomputes features on histories
        cut at dates across the whole period (exactly what makes each step's masked rows equal
        a live run's), and its association test sees every row any step trains on, with more
        power than a step's shorter cut. Each candidate's holdout-plausibility check still runs
        at its own step.
        """
        retraining = settings.retraining
        dataset = dataset_from_market(
            market, horizon=retraining.horizon, features=retraining.features
        )
        audit = None
        if retraining.lookahead_gate:
            audit = audit_retrain(market, dataset, Thresholds.from_settings(retraining))
        return cls(settings, market, dataset, audit)

    def _window_start(self, step: np.datetime64) -> np.datetime64 | None:
        return period_start(step, self.settings.market.period)

    def market_at(self, step: np.datetime64) -> MarketData:
        """The market as a live run on ``step`` would load it: bars up to its close, within
        ``market.period``."""
        start = self._window_start(step)
        histories: dict[str, PriceHistory] = {}
        for ticker, history in self.market.histories.items():
            known = history.until(step)
            if start is not None:
                known = known.rows(slice(int(np.searchsorted(known.dates, start)), None))
            if len(known):
                histories[ticker] = known
        return MarketData(histories, self.market.report, self.market.source)

    def dataset_at(self, step: np.datetime64) -> Dataset:
        """Rows dated up to ``step`` within the period, labels known by ``step`` only.

        Within the period, each ticker's first rows are dropped as a live run drops the
        features' warm-up.
        """
        rows = self.dataset.dates <= step
        start = self._window_start(step)
        if start is not None:
            first_row = feature_window(self.dataset.feature_names) - 1
            first_usable = np.full(len(self.dataset.ticker_names), np.datetime64("NaT"), "M8[D]")
            for code, ticker in enumerate(self.dataset.ticker_names):
                dates = self.market.histories[ticker].dates
                index = int(np.searchsorted(dates, start)) + first_row
                first_usable[code] = dates[index] if index < len(dates) else np.datetime64("NaT")
            usable = first_usable[self.dataset.ticker_codes]
            rows &= ~np.isnat(usable) & (self.dataset.dates >= usable)
        cut = self.dataset.take(rows)
        unknown = cut.label_end > step
        if not unknown.any():
            return cut
        y = cut.y.copy()
        y[unknown] = np.nan
        y.setflags(write=False)
        return Dataset(
            X=cut.X,
            y=y,
            dates=cut.dates,
            label_end=cut.label_end,
            ticker_codes=cut.ticker_codes,
            ticker_names=cut.ticker_names,
            feature_names=cut.feature_names,
            horizon=cut.horizon,
            report=cut.report,
        )


@dataclass
class StepCandidate:
    """What a worker returns for one step: the prepared candidate, or why there is none."""

    step: int
    date: np.datetime64
    prepared: PreparedCandidate | None
    error: str | None
    seconds: float


def train_step(
    context: ReplayContext, step: int, date: np.datetime64, params: dict | None
) -> StepCandidate:
    """One candidate, exactly as a live retrain on ``date`` would train it (the same model),
    less the work whose results a replay never uses: the older walk-forward folds (they only
    measure ``cv_mean``) and a look-ahead audit per step (``ReplayContext.build`` runs one)."""
    clock = time.perf_counter()
    try:
        prepared = prepare_candidate(
            context.settings,
            context.market_at(date),
            params=params,
            dataset=context.dataset_at(date),
            audit=context.audit,
            measure_cv=False,  # nothing in a replay shows cv_mean; the model is the same
        )
        return StepCandidate(step, date, prepared, None, time.perf_counter() - clock)
    except TradingEngineError as error:
        return StepCandidate(step, date, None, str(error), time.perf_counter() - clock)


_TRIAL_LOSS: list[tuple[ReplayContext, np.datetime64, TrialLoss]] = []  # this process's last


def trial_loss(context: ReplayContext, date: np.datetime64, overrides: dict[str, Any]) -> float:
    """One tuning trial of the full step on ``date``, on the rows a live retrain would tune on.

    The rows, their splits and the binned dataset are built once per step in each process (a
    worker usually evaluates several trials of the same step in a row).
    """
    cached = _TRIAL_LOSS[0] if _TRIAL_LOSS else None  # read once: a Dask worker has threads
    if cached is None or cached[0] is not context or cached[1] != date:
        cached = (context, date, TrialLoss(context.dataset_at(date), context.settings.retraining))
        _TRIAL_LOSS[:] = [cached]
    return cached[2](overrides)


# -- where candidates are trained -----------------------------------------------------------------

_WORKER_CONTEXT: ReplayContext | None = None


def _init_worker(context: ReplayContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _train_in_worker(step: int, date: np.datetime64, params: dict | None) -> Any:
    assert _WORKER_CONTEXT is not None, "worker started without its replay context"
    return train_step(_WORKER_CONTEXT, step, date, params)


def _trial_in_worker(date: np.datetime64, overrides: dict[str, Any]) -> float:
    assert _WORKER_CONTEXT is not None, "worker started without its replay context"
    return trial_loss(_WORKER_CONTEXT, date, overrides)


class Executor(ABC):
    """Runs ``train_step`` and tuning trials somewhere; results come back through futures."""

    workers: int = 1

    @abstractmethod
    def submit(self, step: int, date: np.datetime64, params: dict | None) -> Any:
        """A future of ``train_step(context, step, date, params)``."""

    @abstractmethod
    def submit_trial(self, date: np.datetime64, overrides: dict[str, Any]) -> Any:
        """A future of ``trial_loss(context, date, overrides)``."""

    def evaluator(self, date: np.datetime64) -> TrialEvaluator:
        """Evaluates a batch of tuning trials of the step on ``date`` side by side."""

        def evaluate(batch: Sequence[dict[str, Any]]) -> list[float]:
            futures = [self.submit_trial(date, overrides) for overrides in batch]
            return [float(future.result()) for future in futures]

        return evaluate

    def close(self) -> None:
        return None


class InlineExecutor(Executor):
    def __init__(self, context: ReplayContext) -> None:
        self.context = context

    def submit(self, step: int, date: np.datetime64, params: dict | None) -> Any:
        done: Future[StepCandidate] = Future()
        done.set_result(train_step(self.context, step, date, params))
        return done

    def submit_trial(self, date: np.datetime64, overrides: dict[str, Any]) -> Any:
        done: Future[float] = Future()
        done.set_result(trial_loss(self.context, date, overrides))
        return done


class PoolExecutor(Executor):
    """A local process pool; the context is sent once per worker process."""

    def __init__(self, context: ReplayContext, workers: int) -> None:
        self.workers = workers
        # Spawned, not forked: a fork after LightGBM's OpenMP threads started in this process
        # leaves children waiting forever on a lock no thread will release.
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(context,),
        )

    def submit(self, step: int, date: np.datetime64, params: dict | None) -> Any:
        return self.pool.submit(_train_in_worker, step, date, params)

    def submit_trial(self, date: np.datetime64, overrides: dict[str, Any]) -> Any:
        return self.pool.submit(_trial_in_worker, date, overrides)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskExecutor(Executor):
    """Candidates on a Dask distributed cluster; the context is scattered once."""

    def __init__(self, context: ReplayContext, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - an optional part
            raise DataError(
                "--dask needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        try:
            self.client = Client(address, timeout="10s")
        except OSError as error:
            raise ConfigError(
                f"--dask: cannot reach the Dask scheduler at {address}: {error}"
            ) from None
        self.context = self.client.scatter(context, broadcast=True)
        self.workers = max(1, sum(self.client.nthreads().values()))

    def submit(self, step: int, date: np.datetime64, params: dict | None) -> Any:
        return self.client.submit(train_step, self.context, step, date, params, pure=False)

    def submit_trial(self, date: np.datetime64, overrides: dict[str, Any]) -> Any:
        return self.client.submit(trial_loss, self.context, date, overrides, pure=False)

    def close(self) -> None:
        self.client.close()


def ordered_candidates(
    executor: Executor,
    dates: Sequence[np.datetime64],
    full_steps: set[int],
    settings: Settings,
) -> Iterator[StepCandidate]:
    """Candidates in step order, at most a few in flight (memory stays flat in steps).

    At a full step the hyperparameters are tuned first, as a live full retrain tunes them, with
    each batch of trials spread over the executor's workers; that step and the ones after it
    train with the tuned parameters.
    """
    window = max(2, 2 * executor.workers)
    pending: deque[tuple[Any, dict[str, Any] | None]] = deque()
    params: dict[str, Any] | None = None
    submitted = 0
    while submitted < len(dates) or pending:
        while submitted < len(dates) and len(pending) < window:
            tuned = None
            if submitted in full_steps:
                if pending:
                    break  # the steps before a full step first: their results are due
                date = dates[submitted]
                try:
                    tuned = params = search(settings.retraining, executor.evaluator(date))
                except (TradingEngineError, ValueError):
                    # The cut cannot hold the folds (pre-flight would say why): the step
                    # itself then fails with that reason, the earlier parameters kept.
                    tuned = None
            pending.append((executor.submit(submitted, dates[submitted], params), tuned))
            submitted += 1
        future, tuned = pending.popleft()
        result = future.result()
        if tuned is not None and result.prepared is not None:
            result.prepared = replace(result.prepared, tuned_params=tuned)
        yield result


# -- the step calendar ------------------------------------------------------------------------


def trading_dates(market: MarketData) -> np.ndarray:
    return np.unique(np.concatenate([h.dates for h in market.histories.values()]))


def step_dates(
    dates: np.ndarray,
    every: str,
    start: np.datetime64 | None = None,
    end: np.datetime64 | None = None,
) -> np.ndarray:
    """Trading dates on which the policy retrains: each one, the last of each week, or the last
    of each month, between ``start`` and ``end``."""
    if every not in EVERY:
        raise ConfigError(f"--every {every!r} not understood; use one of {', '.join(EVERY)}")
    keep = np.ones(len(dates), dtype=bool)
    if start is not None:
        keep &= dates >= start
    if end is not None:
        keep &= dates <= end
    chosen = dates[keep]
    if every == "daily" or len(chosen) == 0:
        return chosen
    unit = "W" if every == "weekly" else "M"
    # Weeks of numpy's datetime64[W] start on Thursday; shift so they start on Monday.
    shifted = chosen + np.timedelta64(3, "D") if unit == "W" else chosen
    period = shifted.astype(f"datetime64[{unit}]")
    last_of_period = np.r_[period[1:] != period[:-1], True]
    return chosen[last_of_period]


def first_trainable_date(context: ReplayContext) -> np.datetime64 | None:
    """The first date whose data cut holds the validation the settings ask for."""
    needed = needed_dates(context.settings.retraining)
    if needed is None:
        return None
    labelled = np.unique(context.dataset.label_end[context.dataset.has_label])
    index = needed - 1 + context.settings.retraining.horizon
    return labelled[index] if index < len(labelled) else None


def _threads_per_worker(settings: Settings, workers: int) -> Settings:
    """With ``lightgbm.num_threads`` 0 (all cores), each of ``workers`` processes gets its share:
    OpenMP pools competing for the same cores slow training many times over."""
    tree = settings.retraining.lightgbm
    if tree.num_threads or workers <= 1:
        return settings
    share = max(1, available_cores() // workers)
    retraining = settings.retraining.model_copy(
        update={"lightgbm": tree.model_copy(update={"num_threads": share})}
    )
    return settings.model_copy(update={"retraining": retraining})


def refuse_models_folder(settings: Settings, path: Path, what: str) -> None:
    """A replay never writes into (or under) the configured models folder."""
    models = Path(settings.paths.models_dir).resolve()
    target = Path(path).resolve()
    if target == models or models in target.parents:
        raise ConfigError(
            f"{what} {path} is in the configured models folder {settings.paths.models_dir}; "
            "a replay keeps its own store: choose another folder"
        )


# -- the decision chain and the served predictions ------------------------------------------------


@dataclass
class StepLog:
    step: int
    date: str
    outcome: str  # deployed, rejected, failed
    forced: bool
    version: str | None  # the version deployed at this step
    production: str | None  # the version serving after this step
    failed_gates: list[str]
    reason: str
    train_end: str | None
    candidate_seconds: float  # training the candidate (in a worker)
    accuracy: float | None  # the candidate's holdout accuracy
    roc_auc: float | None
    decide_seconds: float = 0.0  # judging and deploying it (on the client, in order)
    full: bool = False  # hyperparameters re-tuned at this step (--full-every)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReplayResult:
    """Every row the production of its day predicted, with the baselines, and the step log."""

    settings: Settings
    every: str
    full_every: int
    dates: np.ndarray  # step dates
    steps: list[StepLog]
    row_dates: np.ndarray
    row_tickers: np.ndarray  # ticker names
    y: np.ndarray  # NaN where the label is not known by the end of the data
    probability: dict[str, np.ndarray]  # "policy" and each baseline
    live_version: np.ndarray  # the policy's production version for each row
    model_age: np.ndarray  # business days since the serving model was deployed, per row
    seconds: float
    workers: int
    store: Path
    regime_changes: list[np.datetime64] = field(default_factory=list)


class SimulatedClock:
    """The replay's clock: the evening of the step date (UTC), advanced by the chain."""

    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1, tzinfo=UTC)

    def set(self, day: np.datetime64) -> None:
        self.now = datetime.fromisoformat(f"{as_day(day)}T22:00:00+00:00")

    def __call__(self) -> datetime:
        return self.now


def _production(store: ModelRegistry) -> StoredModel | None:
    data, _ = store.production_bytes()
    return decode_model(data.data, "production") if data is not None else None


def run_replay(
    settings: Settings,
    market: MarketData,
    store_dir: Path,
    *,
    every: str = "weekly",
    start: np.datetime64 | None = None,
    end: np.datetime64 | None = None,
    full_every: int = 0,
    workers: int = 1,
    dask_address: str | None = None,
    progress: StepProgress = no_step_progress,
    regime_changes: Sequence[np.datetime64] = (),
) -> ReplayResult:
    """Run the policy over ``market`` with a simulated clock; its store lives in ``store_dir``.

    ``store_dir`` must not be the configured models folder: a replay never touches it.
    """
    clock_start = time.perf_counter()
    store_dir = Path(store_dir)
    refuse_models_folder(settings, store_dir, "replay store")
    settings = _threads_per_worker(settings, workers if not dask_address else 1)
    context = ReplayContext.build(settings, market)
    all_dates = trading_dates(market)
    earliest = first_trainable_date(context)
    if earliest is None:
        raise DataError(
            f"the data ({len(all_dates)} trading dates) is too short to train even once with "
            "these settings; run 'trading-engine data check' for the numbers"
        )
    first = as_day(start) if start is not None else earliest
    if first < earliest:
        raise ConfigError(
            f"--start {first} is before {earliest}, the first date with enough history to train "
            "with these settings"
        )
    dates = step_dates(all_dates, every, first, as_day(end) if end is not None else None)
    if len(dates) == 0:
        raise ConfigError(f"no trading dates between {first} and {end or all_dates[-1]}")
    full_steps = {i for i in range(len(dates)) if full_every and i % full_every == 0}

    clock = SimulatedClock()
    # training_metrics.json (the runs so far) is written once, at the end, not at every step.
    store = ModelRegistry(store_dir, clock=clock, retention=10**6, record_file=False)
    store.ensure()
    session = store.acquire("a replay")
    if dask_address:
        executor: Executor = DaskExecutor(context, dask_address)
    elif workers > 1:
        executor = PoolExecutor(context, workers)
    else:
        executor = InlineExecutor(context)

    rows_by_date = context.dataset.dates
    n_rows = len(rows_by_date)
    names = ("policy", *BASELINES)
    probability = {name: np.full(n_rows, np.nan) for name in names}
    live_version = np.full(n_rows, "", dtype=object)
    model_age = np.full(n_rows, -1, dtype=np.int64)
    steps: list[StepLog] = []
    first_model: StoredModel | None = None
    production: StoredModel | None = None  # the store starts empty; only deploys change it
    newest: Candidate | None = None
    deployed_on: dict[str, np.datetime64] = {}

    try:
        candidates = ordered_candidates(executor, list(dates), full_steps, settings)
        for result in candidates:
            index, date = result.step, dates[result.step]
            clock.set(date)
            decided = time.perf_counter()
            log = _decide(settings, store, session, clock, result, production)
            log.decide_seconds = round(time.perf_counter() - decided, 3)
            steps.append(log)
            if log.outcome == "deployed":  # read back from the store, as the service serves it
                production = _production(store)
            if log.outcome == "deployed" and log.version:
                deployed_on[log.version] = date
            if first_model is None and production is not None:
                first_model = production
            # The rows this production serves: from this step's close to the next step's.
            upper = dates[index + 1] if index + 1 < len(dates) else None
            served = rows_by_date >= date
            if upper is not None:
                served &= rows_by_date < upper
            if production is None or not served.any():
                progress(index + 1, len(dates))
                continue
            X = context.dataset.X[served]
            probability["policy"][served] = production.model.predict_proba(X)
            assert first_model is not None
            probability["never_retrain"][served] = first_model.model.predict_proba(X)
            if result.prepared is not None:  # a failed step keeps the newest earlier candidate
                newest = result.prepared.candidate
            assert newest is not None
            probability["always_deploy"][served] = newest.model.predict_proba(X)
            probability["train_base_rate"][served] = newest.metrics["train_base_rate"]
            probability["always_up"][served] = 1.0
            live_version[served] = production.version
            since = deployed_on.get(production.version, date)
            model_age[served] = np.busday_count(since, rows_by_date[served])
            progress(index + 1, len(dates))
        try:
            store.write_record_file()
        except OSError as error:  # the store holds every run; only the derived file is missing
            logger.warning("replay: %s not written: %s", store.metrics_path, error)
    finally:
        executor.close()
        session.release()
    scored_rows = ~np.isnan(probability["policy"])
    return ReplayResult(
        settings=settings,
        every=every,
        full_every=full_every,
        dates=dates,
        steps=steps,
        row_dates=rows_by_date[scored_rows],
        row_tickers=context.dataset.tickers[scored_rows],
        y=context.dataset.y[scored_rows],
        probability={name: values[scored_rows] for name, values in probability.items()},
        live_version=live_version[scored_rows],
        model_age=model_age[scored_rows],
        seconds=time.perf_counter() - clock_start,
        workers=executor.workers,
        store=store_dir,
        regime_changes=list(regime_changes),
    )


def _decide(
    settings: Settings,
    store: ModelRegistry,
    session: Any,
    clock: SimulatedClock,
    result: StepCandidate,
    production: StoredModel | None,
) -> StepLog:
    """The live pipeline's judge and deploy, on the candidate trained for this step."""
    date = str(result.date)
    started = clock()
    run = RunRecord(
        run_id=f"replay_{date.replace('-', '')}_{secrets.token_hex(2)}",
        trigger="replay",
        full=result.prepared is not None and result.prepared.tuned_params is not None,
        forced=production is None,  # the initial deployment: production must exist
        started_at=started.isoformat(),
    )
    if result.prepared is None:
        failed = run.model_copy(
            update={
                "outcome": "failed",
                "reason": result.error,
                "finished_at": started.isoformat(),
            }
        )
        store.save_run(failed)
        return StepLog(
            result.step,
            date,
            "failed",
            False,
            None,
            production.version if production else None,
            [],
            result.error or "",
            None,
            round(result.seconds, 3),
            None,
            None,
        )
    outcome = run_retrain(
        settings,
        MarketData({}, QualityReport()),  # unused: the candidate is already prepared
        production,
        clock=clock,
        store=store,
        session=session,
        run=run,
        prepared=result.prepared,
    ).run
    if outcome.outcome != "deployed":
        store.save_run(outcome)
    verdict = outcome.gates
    metrics = outcome.metrics
    log = StepLog(
        result.step,
        date,
        outcome.outcome,
        outcome.forced,
        outcome.version,
        outcome.version
        if outcome.outcome == "deployed"
        else (production.version if production else None),
        [gate.name for gate in verdict.failed] if verdict else [],
        outcome.reason or "",
        metrics.train_end if metrics else None,
        round(result.seconds, 3),
        metrics.accuracy if metrics else None,
        metrics.roc_auc if metrics else None,
    )
    log.full = run.full
    return log


def load_replay_market(
    settings: Settings, *, folder: Path | None = None, end: np.datetime64 | None = None
) -> tuple[MarketData, list[np.datetime64]]:
    """The whole history to replay (``market.period`` is applied per step, not here), cut at
    ``end``, and the known regime changes (the demo market's; none for real data)."""
    from ..data import DemoMarket, load_market

    today = as_day(end) if end is not None else None
    market = load_market(
        settings,
        period="max",
        folder=folder,
        today=today,
        min_history=feature_window(settings.retraining.features),
    )
    if end is not None:
        histories = {t: h.until(end) for t, h in market.histories.items()}
        market = MarketData(
            {t: h for t, h in histories.items() if len(h)}, market.report, market.source
        )
    changes: list[np.datetime64] = []
    if market.source.provider == "demo":
        data = settings.data
        demo = DemoMarket(n_days=data.demo_days, end=data.demo_end, seed=data.demo_seed)
        changes = [regime.start for regime in demo.regimes(today)]
    return market, changes
