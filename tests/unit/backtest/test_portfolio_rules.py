"""A backtest with portfolio rules: the minute's check judges the user's MTM across the day's
strategies, as live; its exit closes what is open and keeps the later strategies out for the day."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

from local_platform.backtest import demo_details
from shared_utils.backtest.markets import SimulatedMarket
from shared_utils.backtest.runner import Backtester, BacktestRequest
from shared_utils.backtest.strategy_file import BACKTEST_USER
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import Action
from shared_utils.market.specs import default_specs
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.strategy import RiskRules


def test_a_users_stop_loss_in_a_backtest_ends_every_strategys_day_and_the_next_day_starts_afresh() -> None:
    calendar, specs = TradingCalendar.default(), default_specs()
    details = demo_details(datetime(2026, 11, 1, tzinfo=UTC))
    names = {d.strategy.strategy_id: d.strategy.name for d in details}
    # A rupee either way: it fires at the first check after the first entry (09:20), whatever the market.
    tight = RiskRules.model_validate({"mtm_stop_loss": 1, "mtm_target": 1})
    backtester = Backtester(
        details,
        BacktestRequest(start=date(2026, 11, 2), end=date(2026, 11, 3), seed=3),
        lambda clock: SimulatedMarket(clock, seed=3, calendar=calendar, specs=specs),
        portfolio=PortfolioRules(users={BACKTEST_USER: tight}),
    )

    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        outcome = backtester.run_day(day)

        traded = Counter((names[f.strategy_id], f.run, f.side) for f in outcome.fills)
        (run,) = {f.run for f in outcome.fills if f.run != "ENTRY"}
        assert run in {"PORTFOLIO_STOP_LOSS", "PORTFOLIO_TARGET"}
        # Only the 09:20 condor traded (4 legs on 2 accounts, in and out); the later ones never entered.
        assert {name for name, _run, _side in traded} == {"NIFTY iron condor"}
        assert sum(traded.values()) == 16
        assert {(f.leg_no, f.broker_account_id) for f in outcome.fills if f.side is Action.BUY} == {
            (f.leg_no, f.broker_account_id) for f in outcome.fills if f.side is Action.SELL
        }
        assert backtester.brokers.net_quantities() == {}
        assert not backtester.store.has_open_positions()


def test_a_strategies_file_carries_its_basket_and_user_rules_and_is_checked_as_the_api_checks() -> None:
    from decimal import Decimal

    import pytest

    from shared_utils.backtest.service import run_backtest
    from shared_utils.backtest.strategy_file import BACKTEST_BASKET, details_of, read_strategy_file
    from shared_utils.errors import InvalidInputError

    strategy = {
        "name": "Short straddle", "underlying": "NIFTY",
        "legs": [{"action": "SELL", "option_type": kind, "strike": {"method": "ATM_OFFSET", "steps": 0},
                  "expiry": "CURRENT_WEEKLY"} for kind in ("CE", "PE")],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:00"},
    }  # fmt: skip
    text = json.dumps(
        {
            "strategies": [{"strategy": strategy, "allocations": [{"broker_account_id": "p1", "lots": 1}]}],
            "portfolio": {"basket": {"mtm_stop_loss": 1, "mtm_target": 1}},
        }
    )
    parsed = read_strategy_file(text)
    rules = parsed.portfolio.rules()
    assert rules.users == {} and rules.baskets[(BACKTEST_USER, BACKTEST_BASKET)].mtm_stop_loss == Decimal("1")

    result = run_backtest(
        details_of(parsed.strategies, datetime(2026, 11, 1, tzinfo=UTC)),
        BacktestRequest(start=date(2026, 11, 2), end=date(2026, 11, 2), seed=3),
        portfolio=rules,
    )
    (day,) = result.days
    assert {f.run for f in day.fills if f.side is Action.BUY} <= {"PORTFOLIO_STOP_LOSS", "PORTFOLIO_TARGET"}

    overnight = strategy | {"product": "NRML", "re_entry": {"until": "14:00"}}
    bad = json.dumps(
        {"strategies": [{"strategy": overnight, "allocations": [{"broker_account_id": "p1", "lots": 1}]}]}
    )
    with pytest.raises(InvalidInputError) as refused:
        details_of(read_strategy_file(bad).strategies, datetime(2026, 11, 1, tzinfo=UTC))
    assert [issue.field for issue in refused.value.details] == ["strategies.0.strategy.re_entry"]
