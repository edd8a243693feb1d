"""The markets a backtest trades in, on its clock: the platform's simulated market (seeded
index paths, Black-Scholes chains at each index's own volatility, as the local platform prices)
or minute bars the user imported, read through the same `QuotedOptionMarket` a live session
prices real quotes with (chains from the synthetic forward, Black-76 Greeks, only fresh quotes).

Bars are used without look-ahead: at minute t the platform sees the close of the bar stamped
t - 1 minute (the bar that ended at t), so the session's first minute has no price yet."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import Clock
from shared_utils.execution.market import SimulatedOptionMarket
from shared_utils.execution.quoted_market import QuotedOptionMarket
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.simulation import IndexPaths
from shared_utils.market.specs import SpecTable
from shared_utils.market.strikes import OptionChain
from shared_utils.market_data.models import Quote

BAR = timedelta(minutes=1)
# A bar is fresh for the minute after it ended: at t the newest bar is stamped t - 1 minute.
FRESH_FOR = timedelta(minutes=2)


class SimulatedMarket:
    def __init__(
        self, clock: Clock, *, seed: int | None, calendar: TradingCalendar, specs: SpecTable
    ) -> None:
        self._clock = clock
        self._paths = IndexPaths(seed, calendar=calendar)
        self._minute: datetime | None = None
        self._levels: dict[str, Decimal] = {}
        self._options = SimulatedOptionMarket(
            self.level, clock, specs, self._paths.parameters, calendar=lambda: calendar
        )

    def level(self, underlying: str) -> Decimal | None:
        """The index at the clock's minute (the path moves once a minute; read once a minute)."""
        now = self._clock.now()
        if now != self._minute:
            self._minute, self._levels = now, {}
        found = self._levels.get(underlying)
        if found is None:
            found = self._levels[underlying] = self._paths.level(underlying, now)
        return found

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        return self._options.chain(underlying, expiry)

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        return self._options.price(instrument)


class MinuteBars(Protocol):
    """Imported minute bars (`market_data.history.HistoricalQuotes`): the bar containing `at`."""

    def level(self, underlying: str, at: datetime) -> Decimal | None: ...
    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]: ...


class _CompletedBars:
    """The bars that have ended by `now` (the one stamped a minute earlier)."""

    def __init__(self, bars: MinuteBars) -> None:
        self._bars = bars

    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]:
        return self._bars.chain_quotes(underlying, expiry, now - BAR)


class HistoricalMarket:
    def __init__(
        self,
        clock: Clock,
        bars: MinuteBars,
        *,
        rate: float,
        calendar: TradingCalendar,
        specs: SpecTable,
    ) -> None:
        self._clock = clock
        self._bars = bars
        self._options = QuotedOptionMarket(
            _CompletedBars(bars),
            self.level,
            clock,
            max_age=FRESH_FOR,
            rate=rate,
            calendar=lambda: calendar,
            specs=specs,
        )

    def level(self, underlying: str) -> Decimal | None:
        return self._bars.level(underlying, self._clock.now() - BAR)

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        return self._options.chain(underlying, expiry)

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        return self._options.price(instrument)
