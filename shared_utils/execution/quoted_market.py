"""Chains and prices from the market's own quotes (the minute's refresh of a real source).

Planning selects strikes on a chain built from the cached contract quotes of one expiry: ATM is
measured from the synthetic forward (put-call parity around spot), IVs and deltas come from
Black-76 on that forward at the configured rate. The paper broker fills, and the stop-loss check
marks, at a contract's own last price. Only fresh quotes count: one older than `max_age` (or
stamped in the future) is absent, so a strike without a fresh quote cannot be selected, and a
position without one stays unpriced (no stop-loss decision on it). Nothing is modelled in place
of a missing quote.

The contracts of one expiry are read once a minute (one query), however many positions hold them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import Clock
from shared_utils.execution.market import UnderlyingLevel, expiry_close
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.forward import synthetic_forward
from shared_utils.market.greeks import PricingModel, year_fraction
from shared_utils.market.specs import SpecTable
from shared_utils.market.strikes import OptionChain, with_greeks
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.cache import ChainReader
from shared_utils.market_data.models import Quote, fresh


class QuotedOptionMarket:
    def __init__(
        self,
        quotes: ChainReader,
        level: UnderlyingLevel,
        clock: Clock,
        *,
        max_age: timedelta,
        rate: float,
        calendar: Callable[[], TradingCalendar] | None = None,
        specs: SpecTable | None = None,
    ) -> None:
        self._quotes = quotes
        self._level = level
        self._clock = clock
        self._max_age = max_age
        self._rate = rate
        self._calendar = calendar or TradingCalendar.default
        self._specs = specs
        self._minute = -1
        self._fresh: dict[tuple[str, date], dict[str, Quote]] = {}
        self._chains: dict[tuple[str, date], OptionChain | None] = {}

    def _expiry_quotes(self, underlying: str, expiry: date) -> dict[str, Quote]:
        """The fresh quotes of one expiry's contracts by instrument key, read once a minute."""
        now = self._clock.now()
        minute = int(now.timestamp() // 60)
        if minute != self._minute:
            self._minute, self._fresh, self._chains = minute, {}, {}
        found = self._fresh.get((underlying, expiry))
        if found is None:
            found = {
                quote.instrument: quote
                for quote in self._quotes.chain_quotes(underlying, expiry, now)
                if fresh(quote, now, self._max_age)
            }
            self._fresh[(underlying, expiry)] = found
        return found

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        """The contract's fresh last price, or None (the paper broker rejects, the position is
        left unpriced)."""
        quote = self._expiry_quotes(instrument.underlying.value, instrument.expiry).get(instrument.key)
        return None if quote is None else quote.last_price

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        """The expiry's chain measured from its forward, or None without a fresh index level or
        a strike quoted on both sides."""
        underlying = str(underlying)
        quotes = self._expiry_quotes(underlying, expiry)
        key = (underlying, expiry)
        if key not in self._chains:
            self._chains[key] = self._build(underlying, expiry, quotes)
        return self._chains[key]

    def _build(self, underlying: str, expiry: date, quotes: dict[str, Quote]) -> OptionChain | None:
        spot = self._level(underlying)
        if spot is None or not quotes:
            return None
        by_strike: dict[float, dict[str, float]] = {}
        for quote in quotes.values():
            contract = OptionInstrument.from_key(quote.instrument)
            by_strike.setdefault(float(contract.strike), {})[contract.option_type.value] = float(
                quote.last_price
            )
        strikes = np.array(sorted(by_strike))
        calls = np.array([by_strike[k].get("CE", np.nan) for k in strikes])
        puts = np.array([by_strike[k].get("PE", np.nan) for k in strikes])
        now = self._clock.now()
        years = year_fraction(now, expiry_close(underlying, expiry, self._calendar, self._specs))
        forward = synthetic_forward(strikes, calls, puts, float(spot), years, self._rate)
        if forward is None:
            return None
        chain = OptionChain(
            underlying=Underlying(underlying),
            expiry=expiry,
            underlying_price=forward,
            strikes=strikes,
            ce_premiums=calls,
            pe_premiums=puts,
        )
        return with_greeks(chain, years, self._rate, PricingModel.BLACK_76) if years > 0 else chain
