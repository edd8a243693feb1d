"""Wait and trade on prices the test writes: a leg enters only once its premium has moved, at the
minute it does; one that never moves enough is not entered, and its record says why."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.builder.paths import LOT, orders, run_day, short_straddle


def waiting_call(**wait: object) -> dict[str, object]:
    body = short_straddle()
    legs = body["legs"]
    assert isinstance(legs, list)
    wait = {"direction": "UP", "kind": "PERCENT", "value": 10, "timeout_minutes": 30} | wait
    body["legs"] = [legs[0] | {"wait_and_trade": wait}, legs[1]]
    return body


def test_a_leg_enters_at_the_minute_its_premium_has_moved_enough() -> None:
    path = {(26000, "CE"): [("09:25", "105"), ("09:33", "110")]}

    outcome = run_day([waiting_call()], path)

    assert orders(outcome) == [
        ("09:20", 2, "26000PE", "SELL", LOT, Decimal("100"), "ENTRY"),
        # 10% up from 100 (its price at 09:20): 105 at 09:25 is not enough, 110 at 09:33 is.
        ("09:33", 1, "26000CE", "SELL", LOT, Decimal("110"), "WAIT1"),
        ("15:00", 1, "26000CE", "BUY", LOT, Decimal("110"), "SCHEDULED"),
        ("15:00", 2, "26000PE", "BUY", LOT, Decimal("100"), "SCHEDULED"),
    ]
    assert outcome.notes == []


def test_a_fall_in_points_from_the_price_at_the_scheduled_time() -> None:
    path = {(26000, "CE"): [("09:20", "120"), ("10:02", "101"), ("10:05", "100")]}

    outcome = run_day([waiting_call(direction="DOWN", kind="POINTS", value=20, timeout_minutes=60)], path)

    assert orders(outcome)[1] == ("10:05", 1, "26000CE", "SELL", LOT, Decimal("100"), "WAIT1")


def test_a_leg_that_does_not_move_in_time_is_not_entered_with_the_reason() -> None:
    path = {(26000, "CE"): [("09:45", "109.95"), ("09:51", "130")]}

    outcome = run_day([waiting_call()], path)

    assert [row[1:] for row in orders(outcome)] == [
        (2, "26000PE", "SELL", LOT, Decimal("100"), "ENTRY"),
        (2, "26000PE", "BUY", LOT, Decimal("100"), "SCHEDULED"),
    ]  # the move at 09:51 comes after the 30-minute wait (09:50)
    assert outcome.notes == [
        "Short straddle WAIT1: NOT_ENTERED (wait and trade timed out at 09:50: leg 1's premium did not "
        "move 10% UP from 100.00)"
    ]


def test_every_leg_waiting_enters_each_on_its_own_move() -> None:
    body = waiting_call()
    legs = body["legs"]
    assert isinstance(legs, list)
    body["legs"] = [legs[0], legs[1] | {"wait_and_trade": {"direction": "DOWN", "value": 10}}]
    path = {(26000, "CE"): [("09:40", "110")], (26000, "PE"): [("09:30", "90")]}

    outcome = run_day([body], path)

    assert [row[:2] + row[5:] for row in orders(outcome)][:2] == [
        ("09:30", 2, Decimal("90"), "WAIT2"),
        ("09:40", 1, Decimal("110"), "WAIT1"),
    ]
    assert outcome.notes == [
        "Short straddle ENTRY: NOT_ENTERED (every leg waits to trade (legs 1, 2): each enters once its "
        "premium moves)"
    ]


def test_a_waiting_leg_never_opens_alone_after_the_strategy_stopped() -> None:
    # The put (entered at 09:20) costs the strategy its 650 MTM stop at 09:25; the call would have
    # moved enough at 09:30, but the strategy is out: a lone short call must not open.
    path = {(26000, "PE"): [("09:25", "110")], (26000, "CE"): [("09:30", "110")]}
    body = waiting_call() | {"risk": {"mtm_stop_loss": 650}}

    outcome = run_day([body], path)

    assert [row[:2] + row[5:] for row in orders(outcome)] == [
        ("09:20", 2, Decimal("100"), "ENTRY"),
        ("09:25", 2, Decimal("110"), "STOP_LOSS"),
    ]
    assert outcome.notes == [
        "Short straddle WAIT1: NOT_ENTERED (not entered: the strategy's exit closed its other legs first)"
    ]
