"""The simulated index market: every index quoted, reproducible by seed, realistic minute
volatility, on the tick, flat outside the session; unknown instruments still quoted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import OptionType
from shared_utils.market.simulation import IndexPaths, default_parameters
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.models import QuoteRequest
from shared_utils.market_data.simulated import SimulatedMarketData

MONDAY = date(2026, 11, 23)
AT = datetime(2026, 11, 23, 11, 7, 30, tzinfo=IST)


def test_every_supported_underlying_is_quoted_near_its_reference_level() -> None:
    quotes = SimulatedMarketData(IndexPaths(seed=7)).quotes(QuoteRequest(indices=list(Underlying)), AT).quotes

    assert [q.instrument for q in quotes] == [u.value for u in Underlying]
    for quote in quotes:
        reference = default_parameters().of(quote.instrument).reference_level
        assert quote.as_of == AT
        assert abs(quote.last_price / reference - 1) < Decimal("0.1")


def test_the_same_seed_and_instant_give_the_same_level_and_other_days_or_seeds_differ() -> None:
    first, again = IndexPaths(seed=7), IndexPaths(seed=7)

    assert first.level("NIFTY", AT) == again.level("NIFTY", AT)
    assert first.level("NIFTY", AT) == first.level("NIFTY", AT.astimezone(UTC))
    today = first.day_path("NIFTY", MONDAY).ticks
    tomorrow = first.day_path("NIFTY", MONDAY + timedelta(days=1)).ticks
    assert today[0] != tomorrow[0] and not np.array_equal(today[1:50], tomorrow[1:50])
    assert IndexPaths(seed=8).level("NIFTY", AT) != first.level("NIFTY", AT)
    assert first.level("BANKNIFTY", AT) != first.level("NIFTY", AT)


@pytest.mark.parametrize("underlying", list(Underlying))
def test_one_minute_returns_have_the_index_volatility(underlying: Underlying) -> None:
    paths = IndexPaths(seed=11)
    days = TradingCalendar.default().trading_days(date(2026, 1, 1), date(2026, 3, 31))
    returns = np.concatenate([np.diff(np.log(paths.day_path(underlying, d).levels)) for d in days])
    parameters = default_parameters()
    expected = parameters.volatility(underlying) / np.sqrt(
        parameters.trading_days_per_year * parameters.minutes_per_trading_day
    )

    assert len(returns) > 20_000
    assert returns.std() == pytest.approx(expected, rel=0.1)
    assert abs(returns.mean()) < expected / 10


def test_daily_opens_gap_with_the_overnight_volatility() -> None:
    paths = IndexPaths(seed=3)
    days = TradingCalendar.default().trading_days(date(2025, 1, 1), date(2026, 12, 31))
    opens = np.array([paths.day_path("SENSEX", d).levels[0] for d in days])
    reference = float(default_parameters().of("SENSEX").reference_level)

    assert np.log(opens / reference).std() == pytest.approx(0.13 / np.sqrt(252), rel=0.15)


def test_levels_are_positive_and_on_the_tick() -> None:
    paths = IndexPaths(seed=5)
    session = TradingCalendar.default().session(MONDAY)
    assert session is not None
    minute = session.open
    while minute <= session.close:
        for underlying in Underlying:
            level = paths.level(underlying, minute)
            assert level > 0 and level % Decimal("0.05") == 0
        minute += timedelta(minutes=17)


def test_before_the_open_quotes_the_open_and_after_the_close_the_close() -> None:
    paths = IndexPaths(seed=5)
    session = TradingCalendar.default().session(MONDAY)
    assert session is not None
    path = paths.day_path("NIFTY", MONDAY)

    assert path.open == session.open and path.close == session.close
    assert paths.level("NIFTY", session.open - timedelta(hours=2)) == paths.level("NIFTY", session.open)
    assert paths.level("NIFTY", session.pre_open_start) == Decimal(int(path.ticks[0])) * Decimal("0.05")
    assert paths.level("NIFTY", session.close + timedelta(hours=3)) == paths.level("NIFTY", session.close)
    assert paths.level("NIFTY", session.close) == Decimal(int(path.ticks[-1])) * Decimal("0.05")
    assert paths.level("NIFTY", session.open + timedelta(seconds=59)) == paths.level("NIFTY", session.open)
    assert len(set(path.ticks.tolist())) > 50  # the session moves


def test_a_day_without_a_session_still_quotes_over_the_usual_hours() -> None:
    paths = IndexPaths(seed=5)
    saturday = date(2026, 11, 28)
    path = paths.day_path("BANKEX", saturday)
    assert f"{path.open:%H:%M}" == "09:15" and f"{path.close:%H:%M}" == "15:30"
    assert paths.level("BANKEX", datetime(2026, 11, 28, 12, tzinfo=IST)) > 0
    # A year without an official list trades provisionally, with the session times in force.
    provisional = paths.day_path("BANKEX", date(2031, 6, 2))
    assert f"{provisional.open:%H:%M}" == "09:15" and f"{provisional.close:%H:%M}" == "15:40"


def test_no_contract_is_quoted() -> None:
    """The simulation models premiums on the level (SimulatedOptionMarket): it never invents a
    contract's quote for the cache."""
    contract = OptionInstrument(
        underlying=Underlying.NIFTY, expiry=MONDAY, strike=Decimal(26000), option_type=OptionType.CE
    )
    batch = SimulatedMarketData(IndexPaths(seed=1)).quotes(QuoteRequest(contracts=[contract]), AT)

    assert batch.quotes == [] and batch.dropped == 0


def test_the_shipped_parameters_say_they_are_simulation_parameters() -> None:
    parameters = default_parameters()

    assert "not market data" in parameters.source
    assert set(parameters.underlyings) == set(Underlying)
    assert parameters.volatility("BANKNIFTY") == 0.15
