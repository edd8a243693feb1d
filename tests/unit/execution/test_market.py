"""Simulated option prices: each index's own volatility, a contract priced alone at its chain's
premium, and one quote-cache read per underlying per minute."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST, FixedClock
from shared_utils.execution import market as market_module
from shared_utils.execution.levels import CachedLevels
from shared_utils.execution.market import SimulatedOptionMarket, expiry_close, variance_years
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.greeks import greeks
from shared_utils.market.options import OptionType
from shared_utils.market.simulation import default_parameters
from shared_utils.market.specs import spec_for
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.models import CLOCK_SKEW_ALLOWANCE, Quote

NOW = datetime(2026, 11, 25, 4, 0, 20, tzinfo=UTC)  # 09:30:20 IST
EXPIRY = date(2026, 12, 29)
LEVELS = {"NIFTY": Decimal("26010"), "BANKNIFTY": Decimal("59040")}
EXPIRES = datetime(2026, 12, 29, 15, 40, tzinfo=IST)  # the F&O close since 2026-08-03


def contract(underlying: str, strike: float, option_type: OptionType) -> OptionInstrument:
    return OptionInstrument(
        underlying=Underlying(underlying), expiry=EXPIRY, strike=Decimal(str(strike)), option_type=option_type
    )


def paths_years(at: datetime, expires: datetime) -> float:
    """The simulated paths' time to expiry: the session minutes left (NSE's calendar)."""
    return variance_years(at, expires, TradingCalendar.default().for_exchange("NSE"), default_parameters())


def on_tick(value: float) -> Decimal:
    return (Decimal(str(value)) / Decimal("0.05")).to_integral_value() * Decimal("0.05")


def test_a_banknifty_atm_straddle_is_priced_at_the_banknifty_volatility() -> None:
    market = SimulatedOptionMarket(dict(LEVELS).get, FixedClock(NOW))
    step = spec_for("BANKNIFTY", EXPIRY).strike_step
    atm = round(59040 / step) * step
    years = paths_years(NOW.replace(second=0), EXPIRES)

    call = market.price(contract("BANKNIFTY", atm, OptionType.CE))
    put = market.price(contract("BANKNIFTY", atm, OptionType.PE))

    for option_type, price in (("CE", call), ("PE", put)):
        assert price == on_tick(float(greeks(option_type, 59040.0, atm, years, 0.15).price))
        assert price != on_tick(float(greeks(option_type, 59040.0, atm, years, 0.13).price))


def test_each_index_chain_uses_its_own_volatility() -> None:
    market = SimulatedOptionMarket(dict(LEVELS).get, FixedClock(NOW))
    nifty = market.chain("NIFTY", EXPIRY)
    banknifty = market.chain("BANKNIFTY", EXPIRY)
    assert nifty is not None and banknifty is not None
    years = paths_years(NOW.replace(second=0), EXPIRES)

    expected_nifty = greeks("CE", 26010.0, nifty.strikes, years, 0.13).price
    expected_bank = greeks("CE", 59040.0, banknifty.strikes, years, 0.15).price
    assert nifty.ce_premiums == pytest.approx(expected_nifty.clip(min=0.05))
    assert banknifty.ce_premiums == pytest.approx(expected_bank.clip(min=0.05))


def test_a_contract_is_priced_at_its_chains_premium_without_building_the_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check marks a few contracts a minute: each is priced alone, at exactly the premium
    (on the tick) its chain quotes, which planning selected strikes on."""
    built: list[tuple[Any, ...]] = []
    original = market_module.black_scholes_chain

    def spy(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(market_module, "black_scholes_chain", spy)
    levels = dict(LEVELS)
    clock = FixedClock(NOW)
    market = SimulatedOptionMarket(levels.get, clock)
    nifty_step = spec_for("NIFTY", EXPIRY).strike_step
    contracts = [
        contract("NIFTY", 26000 + offset * nifty_step, option_type)
        for offset in range(-30, 31)
        for option_type in (OptionType.CE, OptionType.PE)
    ]
    prices = [market.price(c) for c in contracts]
    assert built == [] and all(p is not None and p > 0 for p in prices)

    for when, level in (
        (NOW, "26010"),
        (NOW + timedelta(hours=3, minutes=7), "25871.35"),
        (EXPIRES, "26010"),
    ):
        clock.set(when)
        levels["NIFTY"] = Decimal(level)
        chain = market.chain("NIFTY", EXPIRY)
        assert chain is not None
        for index, strike in enumerate(chain.strikes):
            for option_type, premiums in (
                (OptionType.CE, chain.ce_premiums),
                (OptionType.PE, chain.pe_premiums),
            ):
                assert market.price(contract("NIFTY", float(strike), option_type)) == max(
                    Decimal("0.05"), on_tick(float(premiums[index]))
                ), (when, strike, option_type)


def test_a_contract_off_the_chain_or_an_unknown_level_has_no_price() -> None:
    market = SimulatedOptionMarket(dict(LEVELS).get, FixedClock(NOW))

    assert market.price(contract("NIFTY", 26010.5, OptionType.CE)) is None
    assert market.price(contract("SENSEX", 85000, OptionType.CE)) is None
    assert market.chain("SENSEX", EXPIRY) is None


def ist(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)


def nifty_26000_call_at(day: date, hhmm: str, **kwargs: Any) -> Decimal | None:
    """The 26000 NIFTY call expiring on `day`, priced at `hhmm` IST that day with NIFTY at 26010
    (intrinsic value 10)."""
    market = SimulatedOptionMarket(dict(LEVELS).get, FixedClock(ist(day, hhmm)), **kwargs)
    instrument = OptionInstrument(
        underlying=Underlying.NIFTY, expiry=day, strike=Decimal("26000"), option_type=OptionType.CE
    )
    return market.price(instrument)


def test_an_expiry_after_the_close_moved_to_1540_still_has_time_value_at_1535() -> None:
    expiry = date(2026, 8, 4)  # NIFTY weekly, Tuesday after the 2026-08-03 change
    assert expiry_close("NIFTY", expiry) == ist(expiry, "15:40")

    price = nifty_26000_call_at(expiry, "15:35")

    assert price is not None and price > Decimal("10")  # five minutes of time value left


def test_an_expiry_before_the_change_is_at_intrinsic_value_at_1535() -> None:
    expiry = date(2026, 7, 28)  # NIFTY July monthly, Tuesday, close 15:30
    assert expiry_close("NIFTY", expiry) == ist(expiry, "15:30")

    assert nifty_26000_call_at(expiry, "15:35") == Decimal("10")
    before_close = nifty_26000_call_at(expiry, "15:29")
    assert before_close is not None and before_close > Decimal("10")


def test_the_close_comes_from_the_calendar_the_caller_hands_in() -> None:
    expiry = date(2026, 8, 4)
    base = TradingCalendar.default()
    calls: list[int] = []

    def shut_on_expiry() -> TradingCalendar:
        # A holiday declared after listing: the regular close in force that day still applies.
        calls.append(1)
        return base.with_changes(added_holidays=[expiry])

    assert expiry_close("NIFTY", expiry, shut_on_expiry) == ist(expiry, "15:40")
    price = nifty_26000_call_at(expiry, "15:35", calendar=shut_on_expiry)
    # No session that day: the paths do not move, so nothing is left but intrinsic value.
    assert price == Decimal("10")
    assert calls
    # A weekend day takes the regular close of the last weekday before it.
    assert expiry_close("NIFTY", date(2026, 8, 8)) == ist(date(2026, 8, 8), "15:40")
    assert expiry_close("NIFTY", date(2026, 8, 2)) == ist(date(2026, 8, 2), "15:30")


class CountingQuoteCache:
    """The quote cache's read side, holding a level for some instruments and counting reads."""

    def __init__(self, levels: dict[str, Decimal]) -> None:
        self.levels = levels
        self.reads: list[str] = []

    def get(self, instrument: str, now: datetime) -> Quote | None:
        self.reads.append(instrument)
        level = self.levels.get(instrument)
        return None if level is None else Quote(instrument=instrument, last_price=level, as_of=now)


def test_cached_levels_read_each_underlying_once_a_minute() -> None:
    cache = CountingQuoteCache({"NIFTY": Decimal("26010")})
    clock = FixedClock(NOW)
    levels = CachedLevels(cache, clock)

    first = [levels("NIFTY") for _ in range(40)] + [levels("BANKNIFTY") for _ in range(40)]
    clock.advance(timedelta(seconds=30))
    cache.levels["NIFTY"] = Decimal("26500")
    same_minute = levels("NIFTY")

    assert sorted(cache.reads) == ["BANKNIFTY", "NIFTY"]
    assert set(first[:40]) == {Decimal("26010")} and same_minute == Decimal("26010")

    clock.advance(timedelta(seconds=30))
    assert levels("NIFTY") == Decimal("26500")
    assert cache.reads.count("NIFTY") == 2


def test_a_missing_stale_or_future_quote_is_no_level_never_a_simulated_one() -> None:
    clock = FixedClock(NOW)
    cache = CountingQuoteCache({})
    levels = CachedLevels(cache, clock, max_age=timedelta(seconds=90))

    assert levels("BANKNIFTY") is None  # nothing cached: no level, no simulation behind it

    class Aged(CountingQuoteCache):
        def __init__(self, age: timedelta) -> None:
            super().__init__({"NIFTY": Decimal("26010")})
            self.age = age

        def get(self, instrument: str, now: datetime) -> Quote | None:
            quote = super().get(instrument, now)
            return None if quote is None else quote.model_copy(update={"as_of": now - self.age})

    assert CachedLevels(Aged(timedelta(seconds=90)), clock)("NIFTY") == Decimal("26010")
    assert CachedLevels(Aged(timedelta(seconds=91)), clock)("NIFTY") is None  # stale
    # The exchange's clock may run a moment ahead of this one; beyond the allowance it is wrong.
    assert CachedLevels(Aged(-CLOCK_SKEW_ALLOWANCE), clock)("NIFTY") == Decimal("26010")
    assert CachedLevels(Aged(-CLOCK_SKEW_ALLOWANCE - timedelta(seconds=1)), clock)("NIFTY") is None


def test_the_paths_time_counts_session_minutes_only() -> None:
    params = default_parameters()
    calendar = TradingCalendar.default()
    step = params.minute_years

    def years(start: datetime, end: datetime) -> float:
        return variance_years(start, end, calendar, params)

    monday, tuesday, wednesday = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)  # 24th: holiday
    friday, next_monday = date(2026, 11, 20), date(2026, 11, 23)
    assert years(ist(monday, "09:30"), ist(monday, "09:31")) == pytest.approx(step)
    assert years(ist(monday, "09:00"), ist(monday, "09:16")) == pytest.approx(step)  # from the open
    assert years(ist(monday, "15:39"), ist(wednesday, "09:16")) == pytest.approx(2 * step)
    assert years(ist(friday, "15:39"), ist(next_monday, "09:16")) == pytest.approx(2 * step)
    assert years(ist(tuesday, "10:00"), ist(tuesday, "11:00")) == 0.0  # no session: nothing moves
    assert years(ist(monday, "10:00"), ist(monday, "09:00")) == 0.0
