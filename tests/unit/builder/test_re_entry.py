"""Re-entry and re-execute on prices the test writes: the exact minute, contract, quantity and
price of every order, the limit and the cut-off, and the faults a re-entry must survive (an exit
delivered late after the re-entry it allowed, an armed entry queued twice)."""

from __future__ import annotations

from decimal import Decimal

from shared_utils.execution.models import ExitReason
from shared_utils.execution.runs import RunKind, StrategyRun
from tests.unit.builder.paths import DAY, LOT, at, backtester, orders, run_day, short_straddle


def leg_re_entry(**rule: object) -> dict[str, object]:
    body = short_straddle()
    legs = body["legs"]
    assert isinstance(legs, list)
    rule = {"mode": "RE_ENTER", "when": "IMMEDIATELY", "max_per_day": 2, "until": "14:00"} | rule
    body["legs"] = [legs[0] | {"stop_loss": {"kind": "PERCENT", "value": 20}, "re_entry": rule}, legs[1]]
    return body


# The call climbs 25% three times; each re-entry sells it again at the price it was stopped at.
CLIMB = {(26000, "CE"): [("09:30", "125"), ("09:40", "150"), ("09:50", "180")]}


def test_a_leg_re_enters_at_its_strike_twice_then_stops_at_its_limit() -> None:
    outcome = run_day([leg_re_entry()], CLIMB)

    assert orders(outcome) == [
        ("09:20", 1, "26000CE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:20", 2, "26000PE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:30", 1, "26000CE", "BUY", LOT, Decimal("125"), "LEG_STOP_LOSS"),
        ("09:31", 1, "26000CE", "SELL", LOT, Decimal("125"), "LEG1.L1"),
        # The re-entry's own stop: 20% above its own entry price (125 -> 150).
        ("09:40", 1, "26000CE", "BUY", LOT, Decimal("150"), "LEG_STOP_LOSS"),
        ("09:41", 1, "26000CE", "SELL", LOT, Decimal("150"), "LEG1.L2"),
        ("09:50", 1, "26000CE", "BUY", LOT, Decimal("180"), "LEG_STOP_LOSS"),
        # max_per_day 2: no third re-entry; the put rides to the scheduled exit.
        ("15:00", 2, "26000PE", "BUY", LOT, Decimal("100"), "SCHEDULED"),
    ]
    assert outcome.notes == []


def test_no_re_entry_at_or_after_the_cut_off() -> None:
    outcome = run_day([leg_re_entry(until="09:41")], CLIMB)

    # The second re-entry would come at 09:41, the cut-off: it is not made.
    assert [row[6] for row in orders(outcome)] == [
        "ENTRY", "ENTRY", "LEG_STOP_LOSS", "LEG1.L1", "LEG_STOP_LOSS", "SCHEDULED",
    ]  # fmt: skip


def strategy_re_execute(**rule: object) -> dict[str, object]:
    rule = {"mode": "RE_EXECUTE", "when": "PREMIUM_RETURNS", "max_per_day": 1, "until": "13:00"} | rule
    return short_straddle(risk={"mtm_stop_loss": 1300}, re_entry=rule)


# The call's jump takes MTM to -25 x 65 = -1625 (stop 1300); the straddle's premium is back under
# the 200 it was sold for at 10:00, when the index is at 26100: fresh ATM strikes are 26100.
RETURN = {
    (26000, "CE"): [("09:30", "125"), ("09:45", "105"), ("10:00", "100")],
    (26000, "PE"): [("10:00", "95")],
    (0, "SPOT"): [("09:45", "26100")],
    (26100, "CE"): [("10:00", "90")],
    (26100, "PE"): [("10:00", "110")],
}


def test_a_strategy_re_executes_at_fresh_strikes_once_its_premium_returns() -> None:
    outcome = run_day([strategy_re_execute()], RETURN)

    assert orders(outcome) == [
        ("09:20", 1, "26000CE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:20", 2, "26000PE", "SELL", LOT, Decimal("100"), "ENTRY"),
        ("09:30", 1, "26000CE", "BUY", LOT, Decimal("125"), "STOP_LOSS"),
        ("09:30", 2, "26000PE", "BUY", LOT, Decimal("100"), "STOP_LOSS"),
        # 09:45: 105 + 100 > 200, still waiting; 10:00: 100 + 95 <= 200.
        ("10:00", 1, "26100CE", "SELL", LOT, Decimal("90"), "RE1"),
        ("10:00", 2, "26100PE", "SELL", LOT, Decimal("110"), "RE1"),
        ("15:00", 1, "26100CE", "BUY", LOT, Decimal("90"), "SCHEDULED"),
        ("15:00", 2, "26100PE", "BUY", LOT, Decimal("110"), "SCHEDULED"),
    ]


def test_a_premium_that_never_returns_is_recorded_at_the_cut_off() -> None:
    outcome = run_day([strategy_re_execute(until="09:50")], RETURN)

    assert [row[6] for row in orders(outcome)] == ["ENTRY", "ENTRY", "STOP_LOSS", "STOP_LOSS"]
    assert outcome.notes == [
        "Short straddle RE1: NOT_ENTERED (no re-entry: the premium did not return to its entry price "
        "by 09:50 (the cut-off))"
    ]


def test_a_re_entry_after_a_target_only_when_the_rule_says_so() -> None:
    fall = {(26000, "CE"): [("09:30", "50")]}  # MTM +50 x 65 = 3250 >= the 3000 target
    after_stop_only = short_straddle(
        risk={"mtm_target": 3000}, re_entry={"until": "13:00", "after": ["STOP_LOSS"]}
    )
    after_target = short_straddle(
        risk={"mtm_target": 3000}, re_entry={"until": "13:00", "after": ["TARGET"], "max_per_day": 1}
    )

    assert [row[:2] + row[6:] for row in orders(run_day([after_stop_only], fall))][2:] == [
        ("09:30", 1, "TARGET"), ("09:30", 2, "TARGET"),
    ]  # fmt: skip
    again = orders(run_day([after_target], fall))
    # Re-entered at 09:31 at the same strikes; its own target is never reached again (50 + 100).
    assert [row[:3] + row[5:] for row in again][4:6] == [
        ("09:31", 1, "26000CE", Decimal("50"), "RE1"),
        ("09:31", 2, "26000PE", Decimal("100"), "RE1"),
    ]


def test_an_exit_delivered_after_the_re_entry_it_allowed_closes_nothing_of_it() -> None:
    tester = backtester([leg_re_entry(max_per_day=1)], CLIMB)
    late = StrategyRun(
        kind=RunKind.EXIT, user_id="backtest", strategy_id="s1", trade_date=DAY,
        scheduled_at=at("09:30"), reason=ExitReason.LEG_STOP_LOSS, leg_no=1, cycle="",
    )  # fmt: skip
    for tick in tester.minutes(DAY):
        if tick == at("09:35"):  # the re-entry (LEG1.L1) is open since 09:31
            assert tester.executor.execute(late) == "LEGSL1:COMPLETE"  # the 09:30 exit's own record
            assert tester.executor.execute(late) == "LEGSL1:COMPLETE"
    outcome = tester.close_day(DAY)

    assert [row[:2] + row[6:] for row in orders(outcome)] == [
        ("09:20", 1, "ENTRY"), ("09:20", 2, "ENTRY"),
        ("09:30", 1, "LEG_STOP_LOSS"), ("09:31", 1, "LEG1.L1"),
        ("09:40", 1, "LEG_STOP_LOSS"), ("15:00", 2, "SCHEDULED"),
    ]  # fmt: skip


def test_an_armed_entry_queued_twice_or_redelivered_places_once() -> None:
    tester = backtester([leg_re_entry(max_per_day=1)], CLIMB)
    again = StrategyRun(
        kind=RunKind.ARMED_ENTRY, user_id="backtest", strategy_id="s1", trade_date=DAY,
        scheduled_at=at("09:31"), run_name="LEG1.L1",
    )  # fmt: skip
    for tick in tester.minutes(DAY):
        if tick in (at("09:31"), at("09:32"), at("09:45")):
            assert tester.executor.execute(again) == "LEG1.L1:COMPLETE"
    outcome = tester.close_day(DAY)

    assert [row[6] for row in orders(outcome)].count("LEG1.L1") == 1
    assert tester.brokers.net_quantities() == {}
