"""Settings: one typed object, built once.

Values come from, lowest priority first: the defaults below, an optional TOML file
(``trading-engine.toml`` in the working folder, or the file named by
``TRADING_ENGINE_CONFIG``), and environment variables ``TRADING_ENGINE_<SECTION>__<NAME>``,
e.g. ``TRADING_ENGINE_MARKET__PERIOD=3y`` or ``TRADING_ENGINE_DATA__PROVIDER=csv``. List
settings take a comma list or a JSON list: ``TRADING_ENGINE_MARKET__DEFAULT_STOCKS=AAPL,MSFT``.

Nothing can be misspelt: an unknown key at any level of the TOML file, or a
``TRADING_ENGINE_*`` variable that names no setting, stops start-up like a bad value does,
with one line naming the source (file or variable), the setting, the value and what was
expected (or the closest valid name).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from .config_sources import (
    ENV_PREFIX,
    Provenance,
    StrictEnvironment,
    TomlFile,
    describe,
    needs,
)
from .errors import ConfigError
from .features.catalogue import BASE_FEATURES, CATALOGUE

DEFAULT_STOCKS: tuple[str, ...] = (
    "AAPL",
    "MSFT",
    "AMZN",
    "NVDA",
    "GOOGL",
    "META",
    "BRK-B",
    "TSLA",
    "UNH",
    "JNJ",
    "JPM",
    "V",
    "XOM",
    "PG",
    "MA",
    "HD",
    "CVX",
    "MRK",
    "ABBV",
    "LLY",
    "PEP",
    "KO",
    "AVGO",
    "COST",
    "WMT",
    "MCD",
    "CSCO",
    "TMO",
    "ACN",
    "ABT",
    "DHR",
    "NEE",
    "LIN",
    "ADBE",
    "TXN",
    "PM",
    "NKE",
    "ORCL",
    "CRM",
    "AMD",
    "INTC",
    "QCOM",
    "HON",
    "UPS",
    "IBM",
    "CAT",
    "GS",
    "BA",
    "AMGN",
    "SBUX",
)

PERIOD_PATTERN = re.compile(r"^(max|\d+(d|wk|mo|y))$")


def _comma_or_json_list(value: object) -> object:
    """A list setting given as text (the environment): ``AAPL,MSFT`` or ``["AAPL", "MSFT"]``."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(
                'expected a comma list like AAPL,MSFT or a JSON list like ["AAPL", "MSFT"]'
            ) from None
    return [item.strip() for item in text.split(",") if item.strip()]


# NoDecode: the environment source would otherwise JSON-decode the variable itself and fail on
# "AAPL,MSFT" before any validator runs; the validator above reads both forms.
NameList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_or_json_list)]


class Section(BaseModel):
    """A table of settings: an unknown key is an error, not a silently ignored typo."""

    model_config = ConfigDict(extra="forbid")


class MarketSettings(Section):
    default_stocks: NameList = DEFAULT_STOCKS
    period: str = "5y"  # yfinance style: 1260d, 52wk, 60mo, 5y or max

    @field_validator("period")
    @classmethod
    def _check_period(cls, value: str) -> str:
        if not PERIOD_PATTERN.match(value):
            raise ValueError("expected a period like 5y, 60mo, 52wk, 1260d or max")
        return value

    @field_validator("default_stocks")
    @classmethod
    def _check_stocks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("expected at least one ticker")
        return tuple(ticker.strip().upper() for ticker in value)


class DataSettings(Section):
    provider: Literal["demo", "csv", "parquet", "yfinance"] = "demo"
    folder: Path | None = None  # for csv / parquet: one TICKER.csv or TICKER.parquet per ticker
    min_tickers: int = Field(1, ge=1)  # stop the run when fewer usable tickers remain
    stale_days: int = Field(
        10, ge=1
    )  # business days a file may lag the others before it is skipped
    adjusted_close: bool = False  # scale OHLC by 'adj close' / 'close' when that column exists
    load_workers: int = Field(0, ge=0)  # threads reading files; 0 = one per core
    demo_days: int = Field(1512, ge=300)
    demo_seed: int = 7
    demo_end: str | None = None  # ISO date of the demo market's last day; None = today

    @model_validator(mode="after")
    def _folder_needed(self) -> DataSettings:
        if self.provider in ("csv", "parquet") and self.folder is None:
            raise needs("provider", "needs data.folder to be set (a folder of TICKER files)")
        return self


class LightGBMSettings(Section):
    """Hyperparameters of the LightGBM classifier (the weekly run re-tunes the tunable ones)."""

    # 0.2 with a patience of 10 rounds, not 0.1 and 20: half the boosting rounds for the same
    # holdout AUC (bench/gates.py power section, 10 planted-signal markets per level: mean model
    # AUC within 0.002 of the slower recipe at every level, the same deploys at oracle AUC 0.60).
    learning_rate: float = Field(0.2, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_data_in_leaf: int = Field(100, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    max_bin: int = Field(63, ge=2, le=1023)
    max_rounds: int = Field(500, ge=1)  # boosting rounds, before early stopping
    early_stopping_rounds: int = Field(10, ge=1)
    num_threads: int = Field(0, ge=0)  # 0 = all cores


class TuningSettings(Section):
    """Optuna search of the weekly full retrain."""

    n_trials: int = Field(25, ge=1)
    timeout_seconds: float = Field(600.0, gt=0)  # checked between batches of trials
    # Trials asked at once and evaluated side by side (a replay spreads them over its workers
    # or Dask). The search depends on it, not on how many workers there are: every engine
    # finds the same parameters, as long as the timeout (checked between batches) cuts none.
    parallel_trials: int = Field(4, ge=1, le=64)


class ScheduleSettings(Section):
    """When the scheduler retrains (the seed: daily 02:00, weekly full retrain Sunday 03:00)."""

    daily_hour: int = Field(2, ge=0, le=23)
    daily_minute: int = Field(0, ge=0, le=59)
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"
    weekly_hour: int = Field(3, ge=0, le=23)
    weekly_minute: int = Field(0, ge=0, le=59)
    timezone: str | None = None  # IANA name, e.g. "America/New_York"; None = the machine's
    misfire_grace_seconds: int = Field(6 * 3600, ge=1)  # a run this late still happens, once

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("expected an IANA time zone like America/New_York") from None
        return value


def _off_is_none(value: object) -> object:
    """A gate threshold may be switched off: ``"off"`` or ``false`` (TOML has no null)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none")):
        return None
    return value


Threshold = Annotated[float | None, BeforeValidator(_off_is_none)]

# What each gate profile sets for the gates a user left unset. "seed": the seed's absolute
# thresholds (F1 > 0.65, accuracy > 0.70), which no real daily-direction edge reaches; "market":
# those off, a candidate judged by its skill, the look-ahead audit and production on the same
# unseen rows. Skill, look-ahead and the production comparison are on in both.
# "market" also tests skill with the two-way clustered standard error, which has the power to
# see a real edge of AUC 0.55-0.60 (the product-weight bootstrap counts row noise three times).
GATE_PROFILES: dict[str, dict[str, float | str | None]] = {
    "seed": {"min_f1_score": 0.65, "min_accuracy": 0.70, "skill_variance": "pigeonhole"},
    "market": {"min_f1_score": None, "min_accuracy": None, "skill_variance": "two_way"},
}


class RetrainingSettings(Section):
    horizon: int = Field(5, ge=1, le=60)  # trading days the label looks ahead
    features: NameList = BASE_FEATURES
    # Which gates are on by default (GATE_PROFILES); any gate set below overrides its profile.
    gate_profile: Literal["seed", "market"] = "seed"
    min_f1_score: Threshold = Field(0.65, ge=0, le=1)  # the seed's MIN_F1_SCORE; "off" = no gate
    min_accuracy: Threshold = Field(0.70, ge=0, le=1)  # the seed's MIN_ACCURACY; "off" = no gate
    # The seed's MAX_PERFORMANCE_DROP (F1 and accuracy versus production); "off" = no gate.
    max_performance_drop: Threshold = Field(0.10, ge=0, le=1)
    # Spend skill_p_value over the candidates judged since production last changed, counted in
    # independent holdout windows (training/repeated.py); False = every candidate at p < 0.05.
    repeated_testing: bool = True
    holdout_days: int = Field(63, ge=5)  # newest trading dates kept for the final verdict
    embargo_days: int | None = Field(None, ge=0)  # extra gap after the purge; None = horizon
    n_splits: int = Field(5, ge=2, le=50)  # walk-forward folds
    window: Literal["expanding", "sliding"] = "expanding"
    max_train_days: int | None = Field(None, ge=20)  # for the sliding window
    early_stopping_days: int = Field(63, ge=5)  # newest training dates used for early stopping
    skill_gate: bool = True  # Pesaran-Timmermann and AUC 0.5, bootstrapped over dates x tickers
    skill_p_value: float = Field(0.05, gt=0, lt=1)
    # How the skill p-values are computed (metrics.block_bootstrap_skill): "pigeonhole" counts
    # product-weight resamples (dates x tickers) without an edge, conservative; "two_way" divides
    # by the two-way clustered standard error. Set by the profile unless given.
    skill_variance: Literal["pigeonhole", "two_way"] = "pigeonhole"
    bootstrap_samples: int = Field(1000, ge=100)
    bootstrap_block_days: int | None = Field(None, ge=1)  # None = 2 x horizon
    min_paired_days: int = Field(20, ge=1)  # holdout dates needed to re-score production
    seed: int = 42
    lightgbm: LightGBMSettings = LightGBMSettings()
    tuning: TuningSettings = TuningSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    retention: int = Field(30, ge=1)  # versioned model files kept (prod and backup always)
    # The look-ahead audit (training/lookahead.py), the gate `lookahead`: a raw column or
    # feature whose AUC for the label, beyond what past returns explain, is this far from 0.5
    # (and `lookahead_z` standard errors) is a leak; so is a feature that changes when later
    # bars are removed (checked on `lookahead_pit_tickers` x `lookahead_pit_cuts` histories).
    lookahead_gate: bool = True
    lookahead_min_auc: float = Field(0.60, gt=0.5, lt=1)
    lookahead_z: float = Field(4.0, ge=0)
    lookahead_pit_tickers: int = Field(5, ge=0)
    lookahead_pit_cuts: int = Field(10, ge=0)
    # A holdout AUC above this is more than daily direction plausibly supports: a warning in
    # the report, a failed `lookahead` gate only with `lookahead_holdout_auc_fails`.
    lookahead_max_holdout_auc: float = Field(0.75, gt=0.5, le=1)
    lookahead_holdout_auc_fails: bool = False

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        """Fill the gates the user left unset from the chosen profile (explicit values win)."""
        if not isinstance(data, dict):
            return data
        profile = data.get("gate_profile", "seed")
        defaults = GATE_PROFILES.get(profile) if isinstance(profile, str) else None
        if defaults is None:
            return data  # the Literal above reports the bad profile name
        return {**defaults, **data}

    @model_validator(mode="after")
    def _sliding_needs_size(self) -> RetrainingSettings:
        if self.window == "sliding" and self.max_train_days is None:
            raise needs("window", "needs retraining.max_train_days to be set")
        return self

    @property
    def embargo(self) -> int:
        return self.horizon if self.embargo_days is None else self.embargo_days

    @property
    def block_days(self) -> int:
        return self.bootstrap_block_days or 2 * self.horizon

    @field_validator("features")
    @classmethod
    def _check_features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CATALOGUE]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; known: {', '.join(CATALOGUE)}")
        if not value:
            raise ValueError("expected at least one feature")
        return value


class MonitoringSettings(Section):
    """Live monitoring (monitoring/): the prediction log, realised metrics, drift, policies."""

    enabled: bool = True  # the daily monitoring job and logging after deploys and predictions
    daily_hour: int = Field(22, ge=0, le=23)  # after the day's bars arrive
    daily_minute: int = Field(30, ge=0, le=59)
    windows: tuple[int, ...] = (21, 63)  # rolling windows of realised metrics, in as-of dates
    series_days: int = Field(60, ge=5)  # as-of dates in the rolling series (sparklines)
    # Drift: the newest `drift_window_days` dates against the production model's training window.
    drift_window_days: int = Field(21, ge=1)
    psi_bins: int = Field(10, ge=2, le=100)
    psi_threshold: float = Field(0.2, gt=0)  # PSI above this: the feature drifted
    small_sample: int = Field(1000, ge=10)  # up to this many recent rows: KS, else Wasserstein
    ks_p_value: float = Field(0.05, gt=0, lt=1)  # KS p-value below this: drifted
    wasserstein_threshold: float = Field(0.1, gt=0)  # in training standard deviations
    drift_share: float = Field(0.5, gt=0, le=1)  # share of drifted features that is "drift"
    predicted_up_tolerance: float = Field(0.25, gt=0, le=1)  # |share up - base rate| alert
    # Policies, each recorded as a monitoring event, an alert and a Prometheus counter.
    drift_retrain: bool = True  # drift: one out-of-cycle retrain a day, through every gate
    compare_shadow: bool = True  # production significantly worse than its shadow: alert
    compare_claim: bool = True  # production significantly worse than its holdout claim: alert
    auto_rollback: bool = False  # ... and roll back through the normal rollback path
    significance: float = Field(0.05, gt=0, lt=1)  # one-sided p-value of those tests
    min_outcome_days: int = Field(25, ge=2)  # as-of dates with outcomes before any test
    stale_days: int = Field(3, ge=1)  # business days without a new bar: stale
    pause_on_stale: bool = True  # stale: alert and pause scheduled retrains until new data

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(window < 1 for window in value):
            raise ValueError("expected at least one window of 1 or more as-of dates")
        return tuple(sorted(set(value)))


class AlertSettings(Section):
    webhook_url: str | None = None  # POSTed a JSON body with a "text" field
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_retries: int = Field(2, ge=0)


class PathSettings(Section):
    models_dir: Path = Path("models")
    logs_dir: Path = Path("logs")
    replay_dir: Path = Path("replay")  # the dashboard shows the `replay --out` reports in it


MIN_TOKEN_LENGTH = 16


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_token: SecretStr | None = None
    # Host names (or IP networks) a write may be addressed to when no API token is set;
    # anything else is refused as DNS rebinding. Loopback only by default.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.0/8", "::1")
    max_body_bytes: int = Field(1_000_000, ge=1)  # larger request bodies get 413

    @field_validator("api_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"an API token needs at least {MIN_TOKEN_LENGTH} characters, got {len(token)} "
                "after stripping whitespace; generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return SecretStr(token)

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(host.strip().strip("[]").lower() for host in value if host.strip())
        for host in hosts:
            if "/" in host:
                try:
                    ipaddress.ip_network(host)
                except ValueError:
                    raise ValueError(f"{host!r} is neither a host name nor an IP network") from None
        return hosts


class Settings(BaseSettings):
    """Everything configurable, in one place."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
    )

    market: MarketSettings = MarketSettings()
    data: DataSettings = DataSettings()
    retraining: RetrainingSettings = RetrainingSettings()
    paths: PathSettings = PathSettings()
    server: ServerSettings = ServerSettings()
    alerts: AlertSettings = AlertSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, StrictEnvironment(settings_cls), TomlFile(settings_cls))


def load_settings(**overrides: Any) -> Settings:
    """Build settings from defaults, the TOML file, the environment and ``overrides``."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe(error, Settings, Provenance(overrides, os.environ))) from None
    except SettingsError as error:  # a value the environment source could not decode
        raise ConfigError(f"environment: {error}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once."""
    return load_settings()
