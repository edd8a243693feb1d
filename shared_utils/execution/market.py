"""Market snapshots for planning and prices for paper fills.

`ChainBook` serves option chains it was given (tests, replays). `SimulatedOptionMarket` prices a
chain around the underlying's latest level with Black-Scholes at the index's own simulated
volatility: the paper broker fills at these prices and planning selects strikes on the same
chain, so local runs and the paper default are consistent. When the underlying level is unknown
it has no chain (the strategy is then not entered, with that reason) and no price (the paper
broker rejects).

The stop-loss check prices every open position each minute, so a chain is built once per
(underlying, expiry, minute, level) and every contract on it is priced from that one chain.

A contract expires at its exchange's session close on the expiry day, read from the trading
calendar (effective-dated: the F&O close moved from 15:30 to 15:40 on 2026-08-03); from then on
it is priced at intrinsic value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import Clock, to_ist
from shared_utils.market.calendar import SessionKind, TradingCalendar
from shared_utils.market.greeks import black76_price, greeks, year_fraction
from shared_utils.market.options import OptionType
from shared_utils.market.simulation import SimulationParameters, default_parameters
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.strikes import OptionChain
from shared_utils.market.underlyings import Underlying

# Latest level of an underlying index, or None when unknown.
UnderlyingLevel = Callable[[str], Decimal | None]

STRIKES_EACH_SIDE = 30
CHAIN_CACHE_SIZE = 64
TICK = Decimal("0.05")


class ChainBook:
    """A fixed set of chains keyed by (underlying, expiry)."""

    def __init__(self, chains: list[OptionChain] | None = None) -> None:
        self._chains = {(str(c.underlying), c.expiry): c for c in chains or []}

    def add(self, chain: OptionChain) -> None:
        self._chains[(str(chain.underlying), chain.expiry)] = chain

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        return self._chains.get((str(underlying), expiry))


def expiry_close(
    underlying: str,
    expiry: date,
    calendar: Callable[[], TradingCalendar] | None = None,
    specs: SpecTable | None = None,
) -> datetime:
    """When the contract expires: its exchange's session close on the expiry day.

    A listed expiry always has a session; if the data says otherwise (a holiday added after
    listing, a Muhurat-only day), the regular close in force on that date is used, never a
    hard-coded time, so a change of session times stays a data change."""
    exchange = (specs or default_specs()).spec_for(underlying, expiry).exchange
    days = (calendar or TradingCalendar.default)().for_exchange(exchange)
    session = days.session(expiry)
    if session is not None and session.counts_as_trading_day:
        return session.close
    return _regular_close(days, expiry)


def _regular_close(calendar: TradingCalendar, day: date) -> datetime:
    """The regular close in force on `day`, which has no regular session: a holiday is reopened
    to read its session times; a weekend or special day takes the times of the last regular
    session before it (ConfigurationError once the data's session times run out)."""
    reopened = calendar.with_changes(removed_holidays=[day])
    probe = day
    while True:
        session = reopened.session(probe)
        if session is not None and session.kind is SessionKind.REGULAR:
            return datetime.combine(day, session.close.timetz())
        probe -= timedelta(days=1)


def variance_years(
    at: datetime, expires: datetime, calendar: TradingCalendar, parameters: SimulationParameters
) -> float:
    """The time, in years, over which the simulated paths move between `at` and `expires`: each
    session minute left counts one step of the paths (`minute_years`); nights, weekends and
    holidays count nothing, as the paths do not move then. Priced on calendar time instead, an
    option lost a night's worth of value over a whole session while the paths moved a trading
    day's worth: the session's theta was a fifth of what its moves cost, and every simulated
    premium seller lost. (Each day's path starts again from the index's reference level with an
    opening gap, so nothing carried overnight is modelled faithfully either way; the gap is left
    out of the price.)"""
    if at >= expires:
        return 0.0
    last = to_ist(expires).date()
    day = to_ist(at).date()
    minutes = 0.0
    while day <= last:
        session = calendar.session(day)
        if session is not None and session.counts_as_trading_day:
            start, end = max(at, session.open), min(expires, session.close)
            if end > start:
                minutes += (end - start).total_seconds() / 60.0
        day += timedelta(days=1)
    return minutes * parameters.minute_years


def black_scholes_chain(
    underlying: str,
    expiry: date,
    spot: float,
    strike_step: float,
    at: datetime,
    volatility: float | None = None,
    *,
    calendar: Callable[[], TradingCalendar] | None = None,
    specs: SpecTable | None = None,
    years: float | None = None,
) -> OptionChain:
    """A chain of STRIKES_EACH_SIDE strikes either side of the ATM strike, priced with the
    platform's vectorised pricing model (zero rate, so Black-76 on the index level) at
    `volatility`, by default the underlying's simulated volatility, until the contract's
    `expiry_close`; at or after it the contract has expired and is priced at intrinsic value."""
    if volatility is None:
        volatility = default_parameters().volatility(underlying)
    atm = round(spot / strike_step) * strike_step
    strikes = np.array([atm + i * strike_step for i in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1)])
    strikes = strikes[strikes > 0]
    if years is None:
        years = year_fraction(at, expiry_close(underlying, expiry, calendar, specs))
    if years > 0:
        calls = greeks(OptionType.CE.value, spot, strikes, years, volatility)
        puts = greeks(OptionType.PE.value, spot, strikes, years, volatility)
        ce_prices, pe_prices, ce_deltas, pe_deltas = calls.price, puts.price, calls.delta, puts.delta
    else:
        ce_prices, pe_prices = np.maximum(spot - strikes, 0.0), np.maximum(strikes - spot, 0.0)
        ce_deltas = np.where(spot > strikes, 1.0, np.where(spot == strikes, 0.5, 0.0))
        pe_deltas = ce_deltas - 1.0
    return OptionChain(
        underlying=Underlying(underlying),
        expiry=expiry,
        underlying_price=spot,
        strikes=strikes,
        ce_premiums=np.maximum(ce_prices, 0.05),
        pe_premiums=np.maximum(pe_prices, 0.05),
        ce_deltas=ce_deltas,
        pe_deltas=pe_deltas,
    )


class SimulatedOptionMarket:
    def __init__(
        self,
        level: UnderlyingLevel,
        clock: Clock,
        specs: SpecTable | None = None,
        parameters: SimulationParameters | None = None,
        *,
        calendar: Callable[[], TradingCalendar] | None = None,
    ) -> None:
        """`calendar` is called for every chain built (at most one per minute per contract), so
        a caller can hand in a calendar with admin changes that it refreshes."""
        self._level = level
        self._clock = clock
        self._specs = specs or default_specs()
        self._parameters = parameters or default_parameters()
        self._calendar = calendar or TradingCalendar.default
        self._chains = lru_cache(maxsize=CHAIN_CACHE_SIZE)(self._build_chain)
        self._step = lru_cache(maxsize=CHAIN_CACHE_SIZE)(self._step_uncached)
        self._volatility = lru_cache(maxsize=None)(self._parameters.volatility)
        self._years_minute: datetime | None = None
        self._years: dict[tuple[str, date, datetime], float] = {}
        self._closes: dict[tuple[str, date], tuple[TradingCalendar, datetime]] = {}

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        """The chain at the current minute, or None when the underlying's level is unknown."""
        spot = self._level(str(underlying))
        if spot is None:
            return None
        minute = self._clock.now().replace(second=0, microsecond=0)
        return self._chains(str(underlying), expiry, minute, spot)

    def _build_chain(self, underlying: str, expiry: date, minute: datetime, spot: Decimal) -> OptionChain:
        step = self._specs.spec_for(underlying, expiry).strike_step
        volatility = self._parameters.volatility(underlying)
        return black_scholes_chain(
            underlying,
            expiry,
            float(spot),
            step,
            minute,
            volatility,
            calendar=self._calendar,
            specs=self._specs,
            years=self._years_from(underlying, expiry, minute),
        )

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        """Last price of one contract (the paper broker's `PriceSource`): the premium its chain
        quotes for it, computed for this contract alone (the minute's check marks a few
        contracts; building their whole chains would cost a hundred times more). None when the
        level is unknown or the strike is not on the chain (off the grid or too far out)."""
        underlying = instrument.underlying.value
        spot = self._level(underlying)
        if spot is None:
            return None
        step = self._step(underlying, instrument.expiry)
        atm = round(float(spot) / step) * step
        strike = float(instrument.strike)
        offset = (strike - atm) / step
        if abs(offset) > STRIKES_EACH_SIDE or not math.isclose(offset, round(offset), abs_tol=1e-9):
            return None
        years = self._years_at(underlying, instrument.expiry)
        call = instrument.option_type is OptionType.CE
        if years > 0:
            volatility = self._volatility(underlying)
            premium = black76_price(call, float(spot), strike, years, volatility)
        else:
            premium = max(float(spot) - strike, 0.0) if call else max(strike - float(spot), 0.0)
        value = Decimal(str(max(premium, 0.05)))
        return max(TICK, (value / TICK).to_integral_value() * TICK)

    def _step_uncached(self, underlying: str, expiry: date) -> float:
        return self._specs.spec_for(underlying, expiry).strike_step

    def _years_at(self, underlying: str, expiry: date) -> float:
        """Years from the clock's minute to the contract's expiry, worked out once a minute (the
        minute is part of the key: threads pricing across a minute's turn never mix them up)."""
        return self._years_from(underlying, expiry, self._clock.now().replace(second=0, microsecond=0))

    def _years_from(self, underlying: str, expiry: date, minute: datetime) -> float:
        """The paths' variance time from `minute` to the expiry (`variance_years`), on the
        calendar of the contract's exchange."""
        if minute != self._years_minute:
            self._years_minute, self._years = minute, {}
        key = (underlying, expiry, minute)
        found = self._years.get(key)
        if found is None:
            exchange = self._specs.spec_for(underlying, expiry).exchange
            calendar = self._calendar().for_exchange(exchange)
            close = self._expiry_close(underlying, expiry)
            found = self._years[key] = variance_years(minute, close, calendar, self._parameters)
        return found

    def _expiry_close(self, underlying: str, expiry: date) -> datetime:
        """The contract's expiry close, worked out again only when the calendar handed in is a
        different one (admin changes make a new calendar)."""
        calendar = self._calendar()
        cached = self._closes.get((underlying, expiry))
        if cached is None or cached[0] is not calendar:
            close = expiry_close(underlying, expiry, lambda: calendar, self._specs)
            cached = self._closes[(underlying, expiry)] = (calendar, close)
        return cached[1]
