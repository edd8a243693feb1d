"""An entry plans the strikes of the #22 modes from the chain, or is not entered with the reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np

from shared_utils.execution.market import ChainBook
from shared_utils.execution.planning import plan_entry
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import ExpiryKind, expiry_for
from shared_utils.market.strikes import OptionChain
from tests.unit.execution.builders import allocation, leg, strategy

CALENDAR = TradingCalendar.default()
TRADE_DATE = date(2026, 11, 25)
EXPIRY = expiry_for("NIFTY", TRADE_DATE, ExpiryKind.CURRENT_WEEKLY, CALENDAR)


def book(pe_at_atm: float = 125.0) -> ChainBook:
    """NIFTY at 26010: ATM 26000, where CE 135 + PE 125 make a 260 straddle."""
    return ChainBook(
        [
            OptionChain(
                underlying="NIFTY",
                expiry=EXPIRY,
                underlying_price=26010.0,
                strikes=[25800.0, 25850.0, 25900.0, 25950.0, 26000.0, 26050.0, 26100.0, 26150.0, 26200.0],
                ce_premiums=[290.0, 250.0, 210.0, 170.0, 135.0, 105.0, 80.0, 60.0, 44.0],
                pe_premiums=[40.0, 52.0, 67.0, 90.0, pe_at_atm, 150.0, 190.0, 230.0, 270.0],
            )
        ]
    )


def test_straddle_width_and_premium_bounds_plan_the_strikes_they_name() -> None:
    s = strategy(
        [
            leg("SELL", "CE", strike={"method": "STRADDLE_WIDTH", "straddle_multiple": "0.5"}),
            leg("SELL", "PE", strike={"method": "STRADDLE_WIDTH", "straddle_multiple": "-0.5"}),
            leg("BUY", "CE", strike={"method": "PREMIUM_AT_LEAST", "target_premium": "50"}),
            leg("BUY", "PE", strike={"method": "PREMIUM_AT_MOST", "target_premium": "50"}),
        ]
    )

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, book(), CALENDAR)

    assert plan.unresolved_reason is None, plan.unresolved_reason
    strikes = {order.leg_no: order.instrument.strike for order in plan.orders}
    # 0.5 x 260 = 130 = 2.6 steps -> 3 steps either side; CE 60 is the least >= 50; PE 40 the most <= 50.
    assert strikes == {1: Decimal("26150"), 2: Decimal("25850"), 3: Decimal("26150"), 4: Decimal("25800")}


def test_no_atm_put_price_leaves_a_straddle_width_strategy_unentered_with_the_reason() -> None:
    s = strategy([leg("SELL", "CE", strike={"method": "STRADDLE_WIDTH", "straddle_multiple": "0.5"})])

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, book(pe_at_atm=np.nan), CALENDAR)

    assert plan.orders == []
    assert plan.unresolved_reason == (
        f"leg 1: no PE price at the ATM strike 26000 of the NIFTY {EXPIRY.isoformat()} chain: "
        "the straddle width needs both"
    )


def test_a_straddle_width_beyond_the_chain_leaves_the_strategy_unentered_with_the_reason() -> None:
    s = strategy([leg("SELL", "CE", strike={"method": "STRADDLE_WIDTH", "straddle_multiple": "2"})])

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, book(), CALENDAR)

    assert plan.orders == []
    assert "leg 1: straddle width: ATM 26000 + 2 x straddle 260.00 = 26520.00 is strike 26500" in (
        plan.unresolved_reason or ""
    )


def test_no_premium_at_least_the_target_leaves_the_strategy_unentered_with_the_reason() -> None:
    s = strategy([leg("BUY", "CE", strike={"method": "PREMIUM_AT_LEAST", "target_premium": "400"})])

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, book(), CALENDAR)

    assert plan.orders == []
    assert "leg 1: no CE premium at or above 400" in (plan.unresolved_reason or "")
