"""Every strategy-builder feature switched on at once (re-entry and re-execute, wait and trade,
move to cost, the new strike modes, a basket's portfolio stop-loss and trailing stop), over a
simulated week: after each close every intraday position is flat at the paper brokers and in the
store, and every order the ledger holds reached its broker exactly once (no tag twice in a
broker's book, none missing)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared_utils.backtest.markets import SimulatedMarket
from shared_utils.backtest.runner import Backtester, BacktestRequest
from shared_utils.backtest.strategy_file import (
    BACKTEST_BASKET,
    BACKTEST_USER,
    FileAllocation,
    FileStrategy,
    details_of,
)
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.tag import broker_tag
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import default_specs
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.strategy import RiskRules, StrategyCreate

DAYS = tuple(date(2026, 11, day) for day in range(2, 7))  # a Monday to Friday
# The basket's own MTM stop-loss and trailing stop across its three strategies (portfolio exits).
BASKET_RULES = RiskRules.model_validate(
    {"mtm_stop_loss": 6000, "trailing_stop_loss": {"activate_at": 8000, "trail_by": 3000}}
)
WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI"]


def leg(action: str, kind: str, strike: dict[str, object], **extra: object) -> dict[str, object]:
    return {"action": action, "option_type": kind, "strike": strike, "expiry": "CURRENT_WEEKLY", **extra}


ATM = {"method": "ATM_OFFSET", "steps": 0}
TIGHT_STOP = {"kind": "PERCENT", "value": 4}
MONTHLY = "CURRENT_MONTHLY"
WAIT = {"direction": "DOWN", "kind": "PERCENT", "value": 2, "timeout_minutes": 45}
BODIES: list[dict[str, object]] = [
    {  # leg stops re-entering at their strike, the rest moving to cost
        "name": "Straddle re-enter", "underlying": "NIFTY",
        "legs": [leg("SELL", "CE", ATM, stop_loss=TIGHT_STOP,
                     re_entry={"max_per_day": 3, "until": "14:30"}),
                 leg("SELL", "PE", ATM, stop_loss=TIGHT_STOP,
                     re_entry={"mode": "RE_EXECUTE", "when": "PREMIUM_RETURNS", "max_per_day": 2,
                               "until": "14:00"})],
        "entry": {"time": "09:20", "weekdays": WEEKDAYS}, "exit": {"time": "15:10"},
        "move_to_cost": {"after_leg_stop": True},
    },
    {  # a strategy stop re-executing, one leg waiting to trade, new strike modes
        "name": "Strangle re-execute", "underlying": "BANKNIFTY",
        "legs": [leg("SELL", "CE", {"method": "STRADDLE_WIDTH", "straddle_multiple": 0.5},
                     expiry=MONTHLY, wait_and_trade=WAIT),
                 leg("SELL", "PE", {"method": "PREMIUM_AT_LEAST", "target_premium": 150}, expiry=MONTHLY)],
        "entry": {"time": "09:30", "weekdays": WEEKDAYS}, "exit": {"time": "15:00"},
        "risk": {"mtm_stop_loss": 800, "trailing_stop_loss": {"activate_at": 1500, "trail_by": 700}},
        "re_entry": {"mode": "RE_EXECUTE", "max_per_day": 3, "until": "14:00",
                     "after": ["STOP_LOSS", "TARGET"]},
    },
    {  # a target re-entering, a move to cost on profit, the square-off closing what is left
        "name": "Condor target", "underlying": "NIFTY",
        "legs": [leg("SELL", "CE", {"method": "ATM_OFFSET", "steps": 2}, stop_loss=TIGHT_STOP),
                 leg("BUY", "CE", {"method": "ATM_OFFSET", "steps": 4}),
                 leg("SELL", "PE", {"method": "PREMIUM_AT_MOST", "target_premium": 60}, stop_loss=TIGHT_STOP),
                 leg("BUY", "PE", {"method": "ATM_OFFSET", "steps": -4})],
        "entry": {"time": "09:45", "weekdays": WEEKDAYS}, "exit": {"time": "15:25"},
        "risk": {"mtm_target": 600},
        "re_entry": {"max_per_day": 2, "until": "15:00", "after": ["TARGET"]},
        "move_to_cost": {"after_leg_stop": False, "at_profit": 300},
    },
]  # fmt: skip


def test_every_feature_on_leaves_everything_flat_and_every_order_sent_once() -> None:
    calendar, specs = TradingCalendar.default(), default_specs()
    details = details_of(
        [
            FileStrategy(
                strategy=StrategyCreate.model_validate(body),
                allocations=[FileAllocation(broker_account_id="paper-1", lots=2),
                             FileAllocation(broker_account_id="paper-2", lots=1)],
            )
            for body in BODIES
        ],
        datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    request = BacktestRequest(start=DAYS[0], end=DAYS[-1], seed=7)
    tester = Backtester(
        details,
        request,
        lambda clock: SimulatedMarket(clock, seed=7, calendar=calendar, specs=specs),
        portfolio=PortfolioRules(baskets={(BACKTEST_USER, BACKTEST_BASKET): BASKET_RULES}),
    )
    runs: set[str] = set()

    for day in DAYS:
        for _tick in tester.minutes(day):
            pass
        ledger = [
            entry
            for strategy_id in ("s1", "s2", "s3")
            for entry in tester.store.ledger_of_day(BACKTEST_USER, day, strategy_id)
        ]
        sent = sorted(broker_tag(e.order_key, BrokerName.PAPER) for e in ledger if e.broker_order_ids)
        outcome = tester.close_day(day)
        runs |= {fill.run for fill in outcome.fills}
        # Each fill is labelled with what placed it, per strategy: the straddle has no MTM rule.
        assert not {f.run for f in outcome.fills if f.strategy_id == "s1"} & {"TARGET", "STOP_LOSS"}

        tags = tester.brokers.order_tags()
        assert len(tags) == len(set(tags)), "an order reached its broker twice"
        assert sorted(tag for tag in tags if tag in set(sent)) == sent  # none missing
        assert tester.brokers.net_quantities() == {}
        assert not tester.store.has_open_positions()
        assert not [note for note in outcome.notes if "left open" in note]

    # The features did act on these days (not a flat day that proves nothing).
    assert {
        "LEG_STOP_LOSS",
        "STOP_LOSS",
        "WAIT1",
        "PORTFOLIO_STOP_LOSS",
        "PORTFOLIO_TRAILING_STOP_LOSS",
    } <= runs
    assert any(run.startswith("LEG") and "." in run for run in runs), runs  # a leg re-entry
    assert any(run.startswith("RE") for run in runs), runs  # a strategy re-entry
