"""After every simulated day of intraday strategies, nothing is open: not at the paper brokers,
not in the execution store, and every order the ledger holds reached its broker once."""

from __future__ import annotations

from datetime import UTC, date, datetime

from local_platform.backtest import demo_details
from shared_utils.backtest.markets import SimulatedMarket
from shared_utils.backtest.runner import Backtester, BacktestRequest
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import default_specs


def test_every_position_is_flat_at_the_brokers_and_in_the_store_after_each_close() -> None:
    calendar, specs = TradingCalendar.default(), default_specs()
    details = demo_details(datetime(2026, 11, 1, tzinfo=UTC))
    request = BacktestRequest(start=date(2026, 11, 2), end=date(2026, 11, 4), seed=3)
    backtester = Backtester(
        details, request, lambda clock: SimulatedMarket(clock, seed=3, calendar=calendar, specs=specs)
    )

    for day in (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)):
        outcome = backtester.run_day(day)
        assert len(outcome.fills) == 2 * (4 * 2 + 2 * 2 + 2 * 2)  # each leg on each account, in and out
        assert len({(f.strategy_id, f.leg_no, f.broker_account_id, f.side) for f in outcome.fills}) == len(
            outcome.fills
        )  # each order once
        assert backtester.brokers.net_quantities() == {}
        assert not backtester.store.has_open_positions()
