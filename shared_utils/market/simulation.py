"""A simulated index market: geometric Brownian motion per trading minute, reproducible by seed.

Each (seed, underlying, trade date) has its own random stream, seeded from a SHA-256 of the three
(Python's `hash()` changes between processes), so any instant can be quoted without replaying the
days before it and two processes quote the same level. A day opens at the reference level times an
overnight gap, then moves minute by minute through the session; before the open it quotes the
opening level, after the close the closing level. Parameters are data (`data/simulation.json`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.underlyings import Underlying

_DATA_FILE = "simulation.json"
TICK = Decimal("0.05")
_TICK = float(TICK)
# Session used on a day the calendar has no session for (a weekend local run still quotes).
FALLBACK_OPEN = time(9, 15)
FALLBACK_CLOSE = time(15, 30)
DAY_CACHE_SIZE = 64


class IndexParameters(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference_level: Decimal = Field(gt=0)
    volatility: float = Field(gt=0, lt=2)  # annualised


class SimulationParameters(BaseModel):
    """Simulation parameters per underlying; every supported underlying must have a row."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(min_length=1)
    note: str = ""
    seed: int = Field(ge=0)
    trading_days_per_year: PositiveInt
    minutes_per_trading_day: PositiveInt
    underlyings: dict[Underlying, IndexParameters]

    @model_validator(mode="after")
    def _covers_every_underlying(self) -> SimulationParameters:
        missing = sorted(set(Underlying) - set(self.underlyings))
        if missing:
            raise ValueError(f"simulation parameters missing for {', '.join(missing)}")
        return self

    def of(self, underlying: Underlying | str) -> IndexParameters:
        return self.underlyings[Underlying(underlying)]

    def volatility(self, underlying: Underlying | str) -> float:
        return self.of(underlying).volatility

    @property
    def minute_years(self) -> float:
        """One trading minute as a fraction of a trading year (the GBM time step)."""
        return 1.0 / (self.trading_days_per_year * self.minutes_per_trading_day)


@cache
def default_parameters() -> SimulationParameters:
    """The shipped parameters (parsed once per cold start)."""
    text = resources.files("shared_utils.market").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return SimulationParameters.model_validate(json.loads(text))


def stream_seed(seed: int, underlying: Underlying, day: date) -> int:
    """A stable 64-bit seed for one underlying's day (same in every process and Python version)."""
    digest = hashlib.sha256(f"{seed}|{underlying.value}|{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class DayPath:
    """One underlying's levels at each minute of one session, in ticks of 0.05 (index 0 = open)."""

    underlying: Underlying
    open: datetime
    ticks: npt.NDArray[np.int64]

    @property
    def close(self) -> datetime:
        return self.open + timedelta(minutes=len(self.ticks) - 1)

    @property
    def levels(self) -> npt.NDArray[np.float64]:
        return self.ticks.astype(np.float64) * _TICK

    def level(self, at: datetime) -> Decimal:
        minute = math.floor((at - self.open).total_seconds() / 60)
        index = min(max(minute, 0), len(self.ticks) - 1)
        return Decimal(int(self.ticks[index])) * TICK


class IndexPaths:
    """Deterministic simulated index levels: `level(underlying, at)` for any aware instant."""

    def __init__(
        self,
        seed: int | None = None,
        parameters: SimulationParameters | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.parameters = parameters or default_parameters()
        self.seed = self.parameters.seed if seed is None else seed
        self._calendar = calendar or TradingCalendar.default()
        self._days = lru_cache(maxsize=DAY_CACHE_SIZE)(self._generate)

    def level(self, underlying: Underlying | str, at: datetime) -> Decimal:
        return self.day_path(underlying, at.astimezone(IST).date()).level(at)

    def day_path(self, underlying: Underlying | str, day: date) -> DayPath:
        return self._days(Underlying(underlying), day)

    def _session(self, day: date) -> tuple[datetime, datetime]:
        try:
            session = self._calendar.session(day)
        except ConfigurationError:  # a year without calendar data
            session = None
        if session is None:
            return (
                datetime.combine(day, FALLBACK_OPEN, tzinfo=IST),
                datetime.combine(day, FALLBACK_CLOSE, tzinfo=IST),
            )
        return session.open, session.close

    def _generate(self, underlying: Underlying, day: date) -> DayPath:
        opens, closes = self._session(day)
        minutes = max(int((closes - opens).total_seconds() // 60), 0)
        index = self.parameters.of(underlying)
        sigma = index.volatility
        rng = np.random.Generator(np.random.PCG64(stream_seed(self.seed, underlying, day)))
        shocks = rng.standard_normal(minutes + 1)
        gap_years = 1.0 / self.parameters.trading_days_per_year
        dt = self.parameters.minute_years
        gap = sigma * math.sqrt(gap_years) * shocks[0] - 0.5 * sigma**2 * gap_years
        steps = sigma * math.sqrt(dt) * shocks[1:] - 0.5 * sigma**2 * dt
        log_path = math.log(float(index.reference_level)) + gap + np.concatenate(([0.0], np.cumsum(steps)))
        ticks = np.maximum(np.rint(np.exp(log_path) / _TICK), 1).astype(np.int64)
        return DayPath(underlying=underlying, open=opens, ticks=ticks)


@cache
def default_paths() -> IndexPaths:
    """The shipped parameters and calendar, shared so every reader reuses the generated days."""
    return IndexPaths()
