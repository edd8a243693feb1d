"""Move stop-loss to cost, on prices the test writes: the exact minute and price of every order."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.builder.paths import LOT, orders, run_day, short_straddle


def straddle_with_stops(**extra: object) -> dict[str, object]:
    body = short_straddle(**extra)
    legs = body["legs"]
    assert isinstance(legs, list)
    body["legs"] = [
        legs[0] | {"stop_loss": {"kind": "PERCENT", "value": 20}},
        legs[1] | {"stop_loss": {"kind": "PERCENT", "value": 50}},
    ]
    return body


# The call rises 25% at 09:30 (its 20% stop fires); the put, sold at 100, dips then is back at 101.
PATH = {
    (26000, "CE"): [("09:30", "125")],
    (26000, "PE"): [("09:30", "90"), ("09:40", "101"), ("10:00", "160")],
}


def test_a_leg_stop_moves_the_other_legs_stop_to_its_entry_price() -> None:
    outcome = run_day([straddle_with_stops(move_to_cost={"after_leg_stop": True})], PATH)

    assert orders(outcome) == [
        ("09:20", 1, "26000CE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:20", 2, "26000PE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:30", 1, "26000CE", "BUY", LOT, Decimal("125"), "LEG_STOP_LOSS"),
        # At cost from 09:30: 101 >= 100 closes the put at 09:40, not at its own 50% stop (150).
        ("09:40", 2, "26000PE", "BUY", LOT, Decimal("101"), "LEG_STOP_LOSS"),
    ]
    assert outcome.notes == []


def test_without_move_to_cost_the_put_keeps_its_own_stop() -> None:
    outcome = run_day([straddle_with_stops()], PATH)

    assert orders(outcome)[2:] == [
        ("09:30", 1, "26000CE", "BUY", LOT, Decimal("125"), "LEG_STOP_LOSS"),
        ("10:00", 2, "26000PE", "BUY", LOT, Decimal("160"), "LEG_STOP_LOSS"),
    ]


def test_a_profit_threshold_moves_every_stopped_leg_to_cost() -> None:
    # Both legs fall to 60 at 09:25 (MTM +80 x 65 = 5200 >= 5000): stops at cost from then; the
    # call comes back to 100 at 09:50 and is closed there, the put stays open to the 15:00 exit.
    path = {
        (26000, "CE"): [("09:25", "60"), ("09:50", "100")],
        (26000, "PE"): [("09:25", "60")],
    }
    outcome = run_day([straddle_with_stops(move_to_cost={"after_leg_stop": False, "at_profit": 5000})], path)

    assert orders(outcome)[2:] == [
        ("09:50", 1, "26000CE", "BUY", LOT, Decimal("100"), "LEG_STOP_LOSS"),
        ("15:00", 2, "26000PE", "BUY", LOT, Decimal("60"), "SCHEDULED"),
    ]
