"""Chains and prices from the market's own quotes: ATM from the forward, Black-76 deltas, only
fresh quotes, one cache read per expiry per minute."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST, FixedClock
from shared_utils.execution.quoted_market import QuotedOptionMarket
from shared_utils.market.greeks import PricingModel, greeks, year_fraction
from shared_utils.market.options import OptionType
from shared_utils.market.options import OptionType as ChainOptionType
from shared_utils.market.strikes import atm_strike, strike_by_delta
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.models import CLOCK_SKEW_ALLOWANCE, Quote

NOW = datetime(2026, 11, 25, 4, 0, 20, tzinfo=UTC)  # 09:30:20 IST
EXPIRY = date(2026, 12, 29)
EXPIRES = datetime(2026, 12, 29, 15, 40, tzinfo=IST)
SPOT, RATE, VOL = Decimal("26010"), 0.065, 0.13
MAX_AGE = timedelta(seconds=90)
YEARS = year_fraction(NOW, EXPIRES)
FORWARD = float(SPOT) * math.exp(RATE * YEARS)
STRIKES = [float(k) for k in range(25000, 27050, 50)]


def contract(strike: float, option_type: OptionType) -> OptionInstrument:
    return OptionInstrument(
        underlying=Underlying.NIFTY, expiry=EXPIRY, strike=Decimal(str(int(strike))), option_type=option_type
    )


def premium(strike: float, option_type: OptionType) -> Decimal:
    value = float(greeks(option_type.value, FORWARD, strike, YEARS, VOL, RATE, PricingModel.BLACK_76).price)
    return Decimal(str(round(value, 2)))


class Quotes:
    """The cache's chain reads, counted."""

    def __init__(self, quotes: list[Quote]) -> None:
        self.quotes = quotes
        self.reads = 0

    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]:
        self.reads += 1
        return [q for q in self.quotes if q.instrument.startswith(f"{underlying}|{expiry.isoformat()}|")]


def quoted(as_of: datetime = NOW - timedelta(seconds=20)) -> list[Quote]:
    return [
        Quote(instrument=contract(k, t).key, last_price=premium(k, t), as_of=as_of)
        for k in STRIKES
        for t in OptionType
    ]


def market(
    quotes: Quotes, level: Decimal | None = SPOT, clock: FixedClock | None = None
) -> QuotedOptionMarket:
    return QuotedOptionMarket(
        quotes, {"NIFTY": level}.get, clock or FixedClock(NOW), max_age=MAX_AGE, rate=RATE
    )


def test_atm_is_measured_from_the_forward_and_deltas_come_from_black_76_on_it() -> None:
    chain = market(Quotes(quoted())).chain("NIFTY", EXPIRY)

    assert chain is not None and abs(chain.underlying_price - FORWARD) < 0.5
    assert atm_strike(chain) == round(FORWARD / 50) * 50 == 26150  # spot's ATM would be 26000
    call_25_delta = strike_by_delta(chain, ChainOptionType.CE, 0.25)
    expected = greeks("CE", FORWARD, np.array(STRIKES), YEARS, VOL, RATE, PricingModel.BLACK_76).delta
    assert call_25_delta == STRIKES[int(np.argmin(np.abs(expected - 0.25)))]


def test_a_contract_is_priced_at_its_own_last_price_and_one_read_serves_the_minute() -> None:
    quotes = Quotes(quoted())
    prices = market(quotes)

    for strike in STRIKES:
        assert prices.price(contract(strike, OptionType.PE)) == premium(strike, OptionType.PE)
    prices.chain("NIFTY", EXPIRY)

    assert quotes.reads == 1


def test_stale_future_and_missing_quotes_price_nothing() -> None:
    stale = quoted(NOW - MAX_AGE - timedelta(seconds=1))
    future = quoted(NOW + CLOCK_SKEW_ALLOWANCE + timedelta(seconds=1))

    assert market(Quotes(stale)).price(contract(26000, OptionType.CE)) is None
    assert market(Quotes(stale)).chain("NIFTY", EXPIRY) is None
    assert market(Quotes(future)).price(contract(26000, OptionType.CE)) is None
    assert market(Quotes([])).chain("NIFTY", EXPIRY) is None


def test_without_a_fresh_index_level_there_is_no_chain() -> None:
    assert market(Quotes(quoted()), level=None).chain("NIFTY", EXPIRY) is None


def test_a_new_minute_reads_the_quotes_again() -> None:
    quotes = Quotes(quoted())
    clock = FixedClock(NOW)
    prices = market(quotes, clock=clock)
    prices.price(contract(26000, OptionType.CE))
    clock.set(NOW + timedelta(minutes=1))

    prices.price(contract(26000, OptionType.CE))

    assert quotes.reads == 2
