from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from shared_utils.execution.market import ChainBook
from shared_utils.execution.models import ExitReason
from shared_utils.execution.planning import plan_entry, plan_exit
from shared_utils.execution.position_store import position_from_item
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import Action
from shared_utils.market.specs import SpecTable, load_specs, spec_for
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import ExpiryListing, IndexListing, InstrumentListing
from tests.unit.execution.builders import NOW, allocation, iron_condor, leg, market, strategy

CALENDAR = TradingCalendar.default()
TRADE_DATE = date(2026, 11, 25)

# MARKET_FACTS: lots of contracts expiring January 2026 onward.
CURRENT_LOTS = {
    "NIFTY": 65,
    "BANKNIFTY": 30,
    "FINNIFTY": 60,
    "MIDCPNIFTY": 120,
    "NIFTYNXT50": 25,
    "SENSEX": 20,
    "BANKEX": 30,
}


def open_position(order: Any, signed: int) -> Any:
    """The stored position an entry order left open (`signed` > 0 long), valued at 100 a unit."""
    return position_from_item(
        {
            "sk": order.position_sk,
            "user_id": "user-a",
            "strategy_id": "strat-1",
            "entry_date": "2026-11-25",
            "broker_account_id": order.broker_account_id,
            "broker": order.broker,
            "leg_no": order.leg_no,
            "instrument": order.instrument.model_dump(mode="json"),
            "product": "MIS",
            "net_quantity": signed,
            "buy_quantity": max(signed, 0),
            "buy_value": Decimal("100") * max(signed, 0),
            "sell_quantity": max(-signed, 0),
            "sell_value": Decimal("100") * max(-signed, 0),
        }
    )


@pytest.mark.parametrize("underlying", sorted(CURRENT_LOTS))
def test_quantity_is_leg_lots_times_allocation_lots_times_the_contract_lot(underlying):
    s = strategy([leg("SELL", "PE", expiry="CURRENT_MONTHLY", lots=2)], underlying=underlying)

    plan = plan_entry(s, [allocation("acct-1", lots=3)], TRADE_DATE, market(), CALENDAR)

    assert plan.unresolved_reason is None
    total = sum(order.quantity for order in plan.orders)
    assert total == 2 * 3 * CURRENT_LOTS[underlying]
    assert all(order.quantity % CURRENT_LOTS[underlying] == 0 for order in plan.orders)


@pytest.mark.parametrize(
    ("underlying", "trade_date", "near_kind", "far_kind", "near_lot", "far_lot"),
    [
        # NIFTY December 2025 contracts keep 75 after the 2025-10-28 revision; January's trade 65.
        ("NIFTY", date(2025, 12, 24), "CURRENT_WEEKLY", "NEXT_WEEKLY", 75, 65),
        ("NIFTY", date(2025, 12, 1), "CURRENT_MONTHLY", "NEXT_MONTHLY", 75, 65),
        # BANKNIFTY: the June 2025 monthly keeps 30, July 2025 takes 35 (revision of 2025-04-25).
        ("BANKNIFTY", date(2025, 6, 2), "CURRENT_MONTHLY", "NEXT_MONTHLY", 30, 35),
        ("MIDCPNIFTY", date(2025, 6, 2), "CURRENT_MONTHLY", "NEXT_MONTHLY", 120, 140),
        ("FINNIFTY", date(2025, 12, 1), "CURRENT_MONTHLY", "NEXT_MONTHLY", 65, 60),
    ],
)
def test_each_leg_uses_the_lot_of_its_own_contract_around_a_revision(
    underlying, trade_date, near_kind, far_kind, near_lot, far_lot
):
    s = strategy(
        [leg("SELL", "CE", expiry=near_kind), leg("BUY", "CE", expiry=far_kind)], underlying=underlying
    )

    plan = plan_entry(s, [allocation("acct-1", lots=4)], trade_date, market(), CALENDAR)

    by_leg = {order.leg_no: order for order in plan.orders}
    assert by_leg[1].quantity == 4 * near_lot
    assert by_leg[2].quantity == 4 * far_lot
    assert by_leg[1].instrument.expiry < by_leg[2].instrument.expiry


def test_orders_above_the_freeze_quantity_are_cut_into_whole_lot_slices():
    # NIFTY 2026: lot 65, freeze 1756 units -> at most 27 lots (1755 units) per order.
    s = strategy([leg("SELL", "CE", lots=4)])

    plan = plan_entry(s, [allocation("acct-1", lots=10)], TRADE_DATE, market(), CALENDAR)

    assert [order.quantity for order in plan.orders] == [1300, 1300]
    assert [order.slice_no for order in plan.orders] == [1, 2]
    assert len({order.order_key for order in plan.orders}) == 2
    spec = spec_for("NIFTY", plan.orders[0].instrument.expiry)
    for lots in (27, 28, 54, 55, 200):
        sliced = plan_entry(
            strategy([leg("SELL", "CE")]), [allocation("acct-1", lots=lots)], TRADE_DATE, market(), CALENDAR
        )
        quantities = [order.quantity for order in sliced.orders]
        assert sum(quantities) == lots * 65
        assert all(q <= spec.freeze_quantity and q % 65 == 0 for q in quantities), quantities


def test_100_sensex_lots_go_out_as_several_orders_within_the_bse_freeze_limit():
    # SENSEX: lot 20, freeze 1,000 units (50 lots): one 2,000-unit order would be rejected.
    s = strategy([leg("SELL", "CE")], underlying="SENSEX")

    plan = plan_entry(s, [allocation("acct-1", lots=100)], TRADE_DATE, market(), CALENDAR)

    quantities = [order.quantity for order in plan.orders]
    assert plan.unresolved_reason is None
    assert len(quantities) > 1 and sum(quantities) == 2000
    assert all(q <= 1000 and q % 20 == 0 for q in quantities), quantities
    assert [order.slice_no for order in plan.orders] == list(range(1, len(quantities) + 1))


def sensex_without_freeze_quantity() -> tuple[SpecTable, int]:
    """The shipped table with the current SENSEX freeze quantity unknown, and the data's default."""
    text = resources.files("shared_utils.market").joinpath("data", "contract_specs.json").read_text("utf-8")
    data = json.loads(text)
    for row in data["specs"]:
        if row["underlying"] == "SENSEX" and row["expiry_to"] is None:
            row["freeze_quantity"] = None
    return load_specs(data), data["unknown_freeze_quantity_lots"]


def test_an_unknown_freeze_quantity_is_sliced_at_the_conservative_default():
    table, default = sensex_without_freeze_quantity()
    s = strategy([leg("SELL", "CE")], underlying="SENSEX")

    plan = plan_entry(s, [allocation("acct-1", lots=100)], TRADE_DATE, market(), CALENDAR, table)

    lots = [order.lots for order in plan.orders]
    assert sum(lots) == 100 and len(lots) > 1 and max(lots) <= default


def test_an_odd_quantity_with_an_unknown_freeze_quantity_is_closed_in_slices():
    table, default = sensex_without_freeze_quantity()
    entry = plan_entry(
        strategy([leg("SELL", "CE")], underlying="SENSEX"),
        [allocation("acct-1")],
        TRADE_DATE,
        market(),
        CALENDAR,
        table,
    )
    order = entry.orders[0]
    position = open_position(order, -2005)  # not whole lots of 20 (an outside fill)

    exit_plan = plan_exit(
        "user-a", "strat-1", [position], TRADE_DATE, reason=ExitReason.SCHEDULED, specs=table
    )

    quantities = [o.quantity for o in exit_plan.orders]
    assert sum(quantities) == 2005 and max(quantities) <= default * 20


def test_entry_places_buys_before_sells_on_every_broker_and_exit_reverses():
    plan = plan_entry(
        iron_condor(), [allocation("acct-1", 1), allocation("acct-2", 2)], TRADE_DATE, market(), CALENDAR
    )

    for account in ("acct-1", "acct-2"):
        orders = plan.orders_of(account)
        assert [(o.side, o.leg_no) for o in orders] == [
            (Action.BUY, 2),
            (Action.BUY, 4),
            (Action.SELL, 1),
            (Action.SELL, 3),
        ]
    assert {o.order_key.split("#")[0] for o in plan.orders} == {"2026-11-25"}
    assert plan.orders[0].order_key == "2026-11-25#strat-1#ENTRY#acct-1#2#1"


def test_strikes_follow_the_offsets_from_atm():
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, market(), CALENDAR)

    strikes = {o.leg_no: o.instrument.strike for o in plan.orders}
    # NIFTY at 26010, step 50: ATM 26000.
    assert strikes == {
        1: Decimal("26100"),
        2: Decimal("26300"),
        3: Decimal("25900"),
        4: Decimal("25700"),
    }


def test_no_market_data_means_not_entered_with_the_reason():
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, ChainBook(), CALENDAR)

    assert plan.orders == []
    assert plan.unresolved_reason is not None
    assert "no fresh quote for NIFTY" in plan.unresolved_reason


def test_a_fixed_strike_outside_the_chain_means_not_entered():
    s = strategy([leg("SELL", "CE", strike={"method": "FIXED", "strike": "99000"})])

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, market(), CALENDAR)

    assert plan.orders == []
    assert "strike 99000 is not in the NIFTY" in (plan.unresolved_reason or "")


def test_weekly_expiry_on_a_monthly_only_index_is_not_entered():
    s = strategy([leg("SELL", "CE", expiry="CURRENT_WEEKLY")], underlying="BANKNIFTY")

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, market(), CALENDAR)

    assert plan.orders == []
    assert "no weekly expiries" in (plan.unresolved_reason or "")


def test_exit_mirrors_open_quantities_per_broker():
    entry = plan_entry(
        iron_condor(), [allocation("acct-1", 1), allocation("acct-2", 30)], TRADE_DATE, market(), CALENDAR
    )
    positions = [
        open_position(order, order.quantity if order.side is Action.BUY else -order.quantity)
        for order in entry.orders
    ]

    exit_plan = plan_exit("user-a", "strat-1", positions, TRADE_DATE, reason=ExitReason.SCHEDULED)

    for account, lots in (("acct-1", 1), ("acct-2", 30)):
        orders = exit_plan.orders_of(account)
        closing = {}
        for o in orders:
            closing[o.leg_no] = closing.get(o.leg_no, 0) + (
                o.quantity if o.side is Action.BUY else -o.quantity
            )
        assert closing == {1: 65 * lots, 2: -65 * lots, 3: 65 * lots, 4: -65 * lots}
        # short legs bought back first (legs 3, 1), then longs sold (4, 2)
        assert list(dict.fromkeys(o.leg_no for o in orders)) == [3, 1, 4, 2]
    assert all(o.quantity <= 1756 for o in exit_plan.orders)
    assert exit_plan.orders[0].order_key.startswith("2026-11-25#strat-1#EXIT#acct-1#3#")
    assert NOW.date() == TRADE_DATE


def listing_of(underlying: str, expiries: list[tuple[date, int]]) -> InstrumentListing:
    """The exchange's listing of one index: (expiry, lot size) pairs, 50-point strikes."""
    return InstrumentListing(
        trade_date=TRADE_DATE,
        source="kite",
        indices={
            Underlying(underlying): IndexListing(
                underlying=Underlying(underlying),
                tick_size=Decimal("0.05"),
                expiries=[
                    ExpiryListing(expiry=day, lot_size=lot, strike_step=Decimal(50), contracts=122)
                    for day, lot in expiries
                ],
            )
        },
    )


def test_the_listing_wins_over_the_rules_for_expiry_and_lot() -> None:
    # The rules put NIFTY's weekly on Tuesday 1 Dec; the exchange moved it to Monday 30 Nov (an
    # ad-hoc holiday) and lists a revised lot of 75.
    moved = listing_of("NIFTY", [(date(2026, 11, 30), 75), (date(2026, 12, 8), 75), (date(2026, 12, 29), 75)])
    s = strategy([leg("SELL", "PE", lots=2)], underlying="NIFTY")

    plan = plan_entry(s, [allocation("acct-1", lots=1)], TRADE_DATE, market(), CALENDAR, listing=moved)
    by_rules = plan_entry(s, [allocation("acct-1", lots=1)], TRADE_DATE, market(), CALENDAR)

    assert plan.unresolved_reason is None, plan.unresolved_reason
    assert {o.instrument.expiry for o in plan.orders} == {date(2026, 11, 30)}
    assert sum(o.quantity for o in plan.orders) == 2 * 75
    assert {o.instrument.expiry for o in by_rules.orders} == {date(2026, 12, 1)}
    assert sum(o.quantity for o in by_rules.orders) == 2 * 65


def test_the_month_last_listed_expiry_is_the_monthly_contract() -> None:
    listed = listing_of("NIFTY", [(date(2026, 12, 1), 65), (date(2026, 12, 22), 65), (date(2027, 1, 25), 65)])
    s = strategy([leg("SELL", "CE", expiry="CURRENT_MONTHLY")], underlying="NIFTY")

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, market(), CALENDAR, listing=listed)

    (order,) = plan.orders
    assert order.instrument.expiry == date(2026, 12, 22) and order.instrument.monthly


def test_a_kind_the_exchange_does_not_list_is_not_entered_with_the_reason() -> None:
    only_one = listing_of("NIFTY", [(date(2026, 12, 1), 65)])
    s = strategy([leg("SELL", "CE", expiry="NEXT_WEEKLY")], underlying="NIFTY")

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, market(), CALENDAR, listing=only_one)

    assert plan.orders == [] and "lists no next_weekly expiry of NIFTY" in (plan.unresolved_reason or "")


def test_an_index_missing_from_the_listing_is_planned_by_the_rules() -> None:
    s = strategy([leg("SELL", "PE", expiry="CURRENT_MONTHLY")], underlying="BANKNIFTY")
    listed = listing_of("NIFTY", [(date(2026, 12, 1), 75)])

    plan = plan_entry(s, [allocation("acct-1")], TRADE_DATE, market(), CALENDAR, listing=listed)

    assert sum(o.quantity for o in plan.orders) == CURRENT_LOTS["BANKNIFTY"]
