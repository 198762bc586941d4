"""Markets built for the look-ahead audit and the gates: honest ones, leaks, planted signals.

Honest: random walks, and a *realistic* market (fat-tailed t(4) shocks, GARCH(1,1) volatility
clustering, a common market factor with per-ticker betas, volume that follows volatility, the
size of the day's move and falls). Leaks: volume that carries the close ``days`` ahead, and
volume raised on the eve of a rise (an event feed stamped with the wrong date would do that).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tests.conftest import TODAY
from trading_engine.data import PriceHistory

Histories = dict[str, PriceHistory]


def business_days(n_days: int) -> np.ndarray:
    return np.busday_offset(TODAY, np.arange(-n_days + 1, 1), roll="backward").astype(
        "datetime64[D]"
    )


def random_walk_histories(n_tickers: int = 20, n_days: int = 1260, seed: int = 0) -> Histories:
    """Pure random walks (volume independent of everything): nothing can be predicted."""
    rng = np.random.default_rng(seed)
    dates = business_days(n_days)
    histories = {}
    for i in range(n_tickers):
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n_days)))
        open_ = close * np.exp(rng.normal(0, 0.003, n_days))
        volume = rng.integers(100_000, 1_000_000, n_days).astype(float)
        ticker = f"RW{i:02d}"
        histories[ticker] = PriceHistory(
            ticker,
            dates,
            open_,
            np.maximum(open_, close) * 1.004,
            np.minimum(open_, close) * 0.996,
            close,
            volume,
        )
    return histories


def _garch(
    rng: np.random.Generator, n_days: int, n_series: int, volatility: float
) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) returns with t(4) shocks scaled to unit variance, and their volatility."""
    alpha, beta, df = 0.08, 0.90, 4.0
    shocks = rng.standard_t(df, size=(n_days, n_series)) / np.sqrt(df / (df - 2))
    omega = volatility**2 * (1 - alpha - beta)
    variance = np.full(n_series, volatility**2)
    returns, sigma = np.empty((n_days, n_series)), np.empty((n_days, n_series))
    for t in range(n_days):
        sigma[t] = np.sqrt(variance)
        returns[t] = sigma[t] * shocks[t]
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    return returns, sigma


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, scale: float) -> np.ndarray:
    noise = rng.normal(0, scale, shape)
    out = np.zeros(shape)
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def realistic_histories(n_tickers: int = 30, n_days: int = 1260, seed: int = 0) -> Histories:
    """A real-looking market: fat tails, volatility clustering, a market factor, honest volume.

    Daily log return = drift + beta * market + own, each a GARCH(1,1) with t(4) shocks. The open
    is part of the way from the previous close to the close (an overnight gap), high and low
    reach beyond by a volatility-sized amount. Log volume = the ticker's level + a slow
    ticker-own and market-wide swing + the day's move in volatility units + the volatility
    level + a little more on down days + noise: associated with the past, never with the future.
    """
    rng = np.random.default_rng(seed)
    market, market_sigma = _garch(rng, n_days, 1, 0.01)
    own, own_sigma = _garch(rng, n_days, n_tickers, 0.015)
    beta = rng.uniform(0.6, 1.4, n_tickers)
    returns = 0.0003 + beta * market + own
    sigma = np.sqrt((beta * market_sigma) ** 2 + own_sigma**2)
    close = rng.uniform(20, 300, n_tickers) * np.exp(np.cumsum(returns, axis=0))
    previous = np.vstack([close[:1] * np.exp(-returns[:1]), close[:-1]])
    open_ = previous * np.exp(0.35 * returns + rng.normal(0, 0.3, returns.shape) * sigma)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.5, returns.shape)) * sigma)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.5, returns.shape)) * sigma)
    log_volume = (
        rng.uniform(12, 17, n_tickers)
        + _ar1(rng, (n_days, n_tickers), 0.97, 0.1)
        + _ar1(rng, (n_days, 1), 0.95, 0.1)
        + 0.25 * np.abs(returns) / sigma
        + 8 * (sigma - sigma.mean(axis=0))
        + 0.15 * (returns < 0)
        + rng.normal(0, 0.25, returns.shape)
    )
    volume = np.round(np.exp(log_volume))
    dates = business_days(n_days)
    return {
        f"R{i:02d}": PriceHistory(
            f"R{i:02d}", dates, open_[:, i], high[:, i], low[:, i], close[:, i], volume[:, i]
        )
        for i in range(n_tickers)
    }


def with_volume(
    histories: Histories, volume: Callable[[PriceHistory], np.ndarray]
) -> dict[str, PriceHistory]:
    """The same market with each ticker's volume column replaced."""
    return {
        ticker: PriceHistory(
            ticker, h.dates, h.open, h.high, h.low, h.close, np.round(volume(h)).astype(float)
        )
        for ticker, h in histories.items()
    }


def volume_is_future_close(histories: Histories, days: int = 5) -> Histories:
    """A leak: the volume column carries the close ``days`` bars ahead (the issue's copy)."""

    def leaked(h: PriceHistory) -> np.ndarray:
        return 10_000 * np.r_[h.close[days:], np.full(days, h.close[-1])]

    return with_volume(histories, leaked)


def volume_raised_before_rises(
    histories: Histories, factor: float = 1.6, days: int = 5
) -> Histories:
    """A subtle leak: volume ``factor`` times higher on days before a ``days``-day rise."""

    def leaked(h: PriceHistory) -> np.ndarray:
        rise = np.zeros(len(h), dtype=bool)
        rise[:-days] = h.close[days:] > h.close[:-days]
        return h.volume * np.where(rise, factor, 1.0)

    return with_volume(histories, leaked)


def volume_raised_after_falls(
    histories: Histories, factor: float = 1.6, days: int = 5
) -> Histories:
    """Honest (the mirror image of the leak above): volume higher after a ``days``-day fall."""

    def reacting(h: PriceHistory) -> np.ndarray:
        fell = np.zeros(len(h), dtype=bool)
        fell[days:] = h.close[days:] < h.close[:-days]
        return h.volume * np.where(fell, factor, 1.0)

    return with_volume(histories, reacting)


# -- planted signal: honest momentum whose strength is known ------------------------------------

MOMENTUM_DAYS = 10  # days over which the market under-reacts to a shock


def momentum_weights(strength: float, horizon: int = 5, days: int = MOMENTUM_DAYS) -> np.ndarray:
    """Weight of the shock ``j`` days ago (j = 0 .. days - 1) in the expected forward return.

    A day's shock n_t moves the price by n_t that day and by ``strength * n_t / days`` on each
    of the next ``days`` days (under-reaction). The expected ``horizon``-day return from t is
    the drift still to come from shocks up to t: sum over future days u = 1..horizon of
    ``strength / days`` for every shock j days ago with 1 <= u + j <= days.
    """
    return np.array(
        [
            strength / days * sum(1 for u in range(1, horizon + 1) if 1 <= u + j <= days)
            for j in range(days)
        ]
    )


def momentum_returns(
    shocks: np.ndarray, strength: float, horizon: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(daily log returns, the oracle's expected forward return) from shocks (days x tickers)."""
    drift = np.zeros_like(shocks)
    for lag in range(1, MOMENTUM_DAYS + 1):
        drift[lag:] += strength / MOMENTUM_DAYS * shocks[:-lag]
    oracle = np.zeros_like(shocks)
    for lag, weight in enumerate(momentum_weights(strength, horizon)):
        oracle[lag:] += weight * shocks[: len(shocks) - lag]
    return shocks + drift, oracle


def histories_from_returns(
    returns: np.ndarray, dates: np.ndarray, rng: np.random.Generator, prefix: str
) -> Histories:
    """One ticker per column of daily log ``returns`` (named prefix + 00, 01, ...), starting at
    50; the open, the intraday range and the volume are independent noise drawn from ``rng``."""
    days = len(dates)
    histories = {}
    for i in range(returns.shape[1]):
        close = 50 * np.exp(np.cumsum(returns[:, i]))
        open_ = np.r_[50, close[:-1]] * np.exp(rng.normal(0, 0.003, days))
        spread = np.exp(np.abs(rng.normal(0, 0.005, (2, days))))
        name = f"{prefix}{i:02d}"
        histories[name] = PriceHistory(
            name,
            dates,
            open_,
            np.maximum(open_, close) * spread[0],
            np.minimum(open_, close) / spread[1],
            close,
            np.round(500_000 * np.exp(rng.normal(0, 0.3, days))),
        )
    return histories


def planted_signal_histories(
    strength: float,
    n_tickers: int = 20,
    n_days: int = 800,
    seed: int = 0,
    horizon: int = 5,
    end: np.datetime64 = TODAY,
) -> tuple[Histories, dict[str, np.ndarray]]:
    """A market with a real, learnable edge: momentum of ``strength`` (0 = a random walk).

    Returns the histories and, per ticker, the oracle's score for each date: the expected
    ``horizon``-day forward log return given every shock so far (the best forecast possible;
    its AUC for the label is the market's *oracle AUC*). Volume and the intraday range are
    independent noise. The features see the past returns, so a model can learn most of it.
    """
    rng = np.random.default_rng(seed)
    shocks = 0.015 * rng.standard_normal((n_days, n_tickers))
    returns, oracle = momentum_returns(shocks, strength, horizon)
    returns = returns + 0.0003
    dates = np.busday_offset(end, np.arange(-n_days + 1, 1), roll="backward").astype(
        "datetime64[D]"
    )
    histories = histories_from_returns(returns, dates, rng, prefix="S")
    scores = {name: oracle[:, i] for i, name in enumerate(histories)}
    return histories, scores
