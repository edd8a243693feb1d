"""The room a closing order has: what is open on its leg less what closing orders have in flight."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.tag import order_key
from shared_utils.execution.closing import ClosingRoom
from shared_utils.execution.models import LedgerEntry, LedgerStatus, PlannedOrder, PositionView
from shared_utils.market.options import Action, OptionType
from shared_utils.models.common import Product
from tests.unit.execution.builders import NOW

DAY = date(2026, 11, 25)
CALL = OptionInstrument(
    underlying="NIFTY", expiry=date(2026, 12, 1), strike=Decimal(26100), option_type=OptionType.CE
)


def position(net: int, account: str = "a1", leg: int = 1, entry_date: date = DAY) -> PositionView:
    return PositionView(
        user_id="u",
        strategy_id="s",
        entry_date=entry_date,
        broker_account_id=account,
        broker="PAPER",
        leg_no=leg,
        instrument=CALL,
        product=Product.NRML,
        net_quantity=net,
        buy_quantity=max(net, 0),
        buy_value=Decimal(0),
        sell_quantity=max(-net, 0),
        sell_value=Decimal(0),
        realised_pnl=Decimal(0),
        position_sk=keys.position_sk("s", entry_date, account, leg),
    )


def closing(run: str, side: Action, quantity: int, status: LedgerStatus, slice_no: int = 1) -> LedgerEntry:
    return LedgerEntry(
        order_key=order_key(DAY, "s", run, "a1", 1, slice_no),
        user_id="u",
        strategy_id="s",
        broker_account_id="a1",
        broker="PAPER",
        leg_no=1,
        slice_no=slice_no,
        tag="T",
        side=side,
        quantity=quantity,
        instrument_key=CALL.key,
        status=status,
        attempt=1,
        created_at=NOW,
        updated_at=NOW,
    )


def order(side: Action, quantity: int, account: str = "a1", run: str = "EXIT") -> PlannedOrder:
    return PlannedOrder(
        order_key=order_key(DAY, "s", run, account, 1, 1),
        broker_account_id=account,
        broker="PAPER",
        leg_no=1,
        slice_no=1,
        instrument=CALL,
        side=side,
        lots=quantity // 65,
        lot_size=65,
        quantity=quantity,
        product=Product.NRML,
        position_sk=keys.position_sk("s", DAY, account, 1),
    )


def test_a_short_leg_with_a_buy_back_in_flight_has_only_the_rest_left() -> None:
    room = ClosingRoom([position(-130)], [closing("LEGSL1", Action.BUY, 65, LedgerStatus.UNKNOWN)])
    assert room.take(order(Action.BUY, 130)) == 65
    assert room.take(order(Action.BUY, 130)) == 0  # what this run sent counts as in flight too


def test_only_unfinished_closing_orders_count() -> None:
    ledger = [
        closing("ENTRY", Action.BUY, 130, LedgerStatus.PENDING),  # an entry: not closing anything
        closing("LEGSL1", Action.BUY, 65, LedgerStatus.NOT_SENT),  # never reached the broker
        closing("LEGSL1", Action.BUY, 65, LedgerStatus.REJECTED, slice_no=2),
        closing("EXIT", Action.BUY, 65, LedgerStatus.PLACED, slice_no=3),  # open at the broker
    ]
    assert ClosingRoom([position(-130)], ledger).take(order(Action.BUY, 130)) == 65


def test_a_closed_or_reversed_side_has_no_room() -> None:
    assert ClosingRoom([position(0)], []).take(order(Action.BUY, 65)) == 0
    assert ClosingRoom([position(65)], []).take(order(Action.BUY, 65)) == 0  # buying would add to a long
    assert ClosingRoom([], []).take(order(Action.SELL, 65)) == 0


def test_room_is_per_account_and_positions_of_one_leg_on_several_days_add_up() -> None:
    room = ClosingRoom(
        [position(-65, entry_date=date(2026, 11, 24)), position(-65), position(-65, account="a2")], []
    )
    assert room.take(order(Action.BUY, 195)) == 130
    assert room.take(order(Action.BUY, 65, account="a2")) == 65


def test_an_order_counted_in_flight_is_not_in_its_own_way() -> None:
    """The retry of an exit order whose answer was lost, found absent by the broker's lookup, is
    sent again: its own UNKNOWN entry must not use up its room."""
    own = closing("EXIT", Action.BUY, 130, LedgerStatus.UNKNOWN)
    room = ClosingRoom([position(-130)], [own])
    assert room.take(order(Action.BUY, 130)) == 130
    assert room.take(order(Action.BUY, 130)) == 0
