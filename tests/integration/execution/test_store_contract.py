"""One contract for both execution stores: the DynamoDB adapter (on moto, and on the local
platform's in-process moto with its faster answers and queries) and the in-memory one the
backtester runs on. Conditional writes, transactions that write all or nothing, reads in
their order and paging: whatever the engine relies on, both must do alike, so a backtest and a
live session cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local_platform.inprocess_dynamodb import in_process_dynamodb
from shared_utils import keys
from shared_utils.errors import BadRequestError, ConflictError
from shared_utils.execution.armed import ArmedEntry, ArmedKind
from shared_utils.execution.engine import ExecutionEngine
from shared_utils.execution.ledger_store import OutcomeWrite
from shared_utils.execution.memory_store import InMemoryExecutionStore
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    KillSwitchOperation,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    LedgerStatus,
    PlannedOrder,
    ScheduleKind,
    WatchedContract,
)
from shared_utils.execution.planning import plan_entry, plan_exit
from shared_utils.execution.store import ExecutionHistory, ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.strategy import ReEntryWhen
from shared_utils.tables import EXECUTION_HISTORY
from tests.integration.execution.conftest import SerializedClient
from tests.unit.execution.builders import NOW, allocation, iron_condor

TRADE_DATE = date(2026, 11, 25)
CALENDAR = TradingCalendar.default()


@pytest.fixture(params=["dynamodb", "local-moto", "memory"])
def history(request: pytest.FixtureRequest) -> Iterator[ExecutionHistory]:
    if request.param == "memory":
        yield InMemoryExecutionStore()
        return
    if request.param == "local-moto":
        with in_process_dynamodb() as client:
            client.create_table(**EXECUTION_HISTORY.create_table_kwargs("local-history"))
            yield ExecutionStore(client, "local-history")
        return
    aws: dict[str, Any] = request.getfixturevalue("aws")
    yield ExecutionStore(SerializedClient(aws["dynamodb"]), aws["settings"].history_table_name)


@pytest.fixture
def plan(sim: Any) -> ExecutionPlan:
    return plan_entry(iron_condor(), [allocation("acct-1", 1)], TRADE_DATE, sim, CALENDAR)


def entry(
    order: PlannedOrder, *, attempt: int = 1, status: LedgerStatus = LedgerStatus.PENDING
) -> LedgerEntry:
    return LedgerEntry(
        order_key=order.order_key,
        user_id="user-a",
        strategy_id="strat-1",
        broker_account_id=order.broker_account_id,
        broker=order.broker,
        leg_no=order.leg_no,
        slice_no=order.slice_no,
        tag=f"tag-{order.leg_no}-{order.slice_no}",
        side=order.side,
        quantity=order.quantity,
        instrument_key=order.instrument.key,
        position_sk=order.position_sk,
        status=status,
        attempt=attempt,
        created_at=NOW,
        updated_at=NOW,
    )


def filled(claimed: LedgerEntry, order: PlannedOrder, price: str = "100") -> OutcomeWrite:
    return OutcomeWrite(claimed, order, LedgerStatus.FILLED, "B1", order.quantity, Decimal(price))


def test_a_ledger_entry_is_claimed_once_and_taken_over_by_one_attempt(history, plan):
    order = plan.orders[0]
    first = entry(order)

    assert history.claim(first, TRADE_DATE) is None
    assert history.claim(entry(order, attempt=3), TRADE_DATE) == first  # the one already there
    assert history.get_ledger("user-a", order.order_key) == first

    taken = history.take_over(first, NOW + timedelta(seconds=5))
    assert taken is not None and (taken.attempt, taken.status) == (2, LedgerStatus.PENDING)
    assert history.take_over(first, NOW + timedelta(seconds=6)) is None  # a stale attempt loses
    history.unclaim(first)  # a stale attempt cannot take it back either
    assert history.get_ledger("user-a", order.order_key) == taken
    history.unclaim(taken)
    assert history.get_ledger("user-a", order.order_key) is None


def test_an_outcome_is_stored_under_its_attempt_and_a_fill_moves_its_position_once(history, plan):
    order = plan.orders[0]
    claimed = entry(order)
    history.claim(claimed, TRADE_DATE)
    later = NOW + timedelta(seconds=2)

    stored = history.record(
        claimed, order, status=LedgerStatus.FILLED, now=later, broker_order_id="B1",
        filled_quantity=order.quantity, average_price=Decimal("101.5"), reason="x" * 600,
        user_id="user-a", strategy_id="strat-1", opening=True,
    )  # fmt: skip

    again = history.get_ledger("user-a", order.order_key)
    assert again is not None and again.status is LedgerStatus.FILLED and again.broker_order_ids == ["B1"]
    assert again.reason == "x" * 500 and stored.filled_quantity == order.quantity
    with pytest.raises(ConflictError):  # never over a FILLED entry
        history.record(
            claimed, order, status=LedgerStatus.FILLED, now=later, filled_quantity=order.quantity,
            average_price=Decimal("101.5"), user_id="user-a", strategy_id="strat-1", opening=True,
        )  # fmt: skip
    (position,) = history.positions("user-a", "strat-1")
    signed = order.quantity if order.side.value == "BUY" else -order.quantity
    assert position.net_quantity == signed  # counted once, whatever came after
    assert [p.position_sk for p in history.open_positions()] == [order.position_sk]
    assert [p.position_sk for p in history.open_positions(keys.open_positions_gsi1pk("user-a"))] == [
        order.position_sk
    ]
    assert history.open_contracts() == {order.instrument}

    # Move to cost: stored on the position and read with it (the monitor's only read); a key from
    # a stale read creates nothing.
    history.move_stops_to_cost("user-a", [order.position_sk, order.position_sk + "#R9"])
    assert [p.stop_at_cost for p in history.open_positions()] == [True]
    assert [p.position_sk for p in history.positions("user-a")] == [order.position_sk]


def test_the_run_start_writes_all_or_nothing(history, plan):
    entries = [entry(order) for order in plan.orders]
    history.claim(entries[-1], TRADE_DATE)  # one order already claimed

    assert history.begin_run(plan, NOW, entries) is None
    assert history.get_run("user-a", TRADE_DATE, "strat-1", plan.run_name) is None
    assert all(history.get_ledger("user-a", e.order_key) is None for e in entries[:-1])

    history.unclaim(entries[-1])
    record_sk = history.begin_run(plan, NOW, entries)
    assert record_sk is not None
    assert history.get_run("user-a", TRADE_DATE, "strat-1", plan.run_name) == plan
    assert history.runs_to_retry(TRADE_DATE) == [("user-a", "strat-1", plan.run_name)]
    assert [e.order_key for e in history.ledger_of_run("user-a", TRADE_DATE, "strat-1", "ENTRY")] == sorted(
        e.order_key for e in entries
    )
    assert history.begin_run(plan, NOW, []) is None  # the run is there already


def test_an_entry_does_not_begin_under_a_pressed_kill_switch_or_after_the_days_exit(history, plan, sim):
    history.set_kill_switch(None, KillSwitchView(scope="GLOBAL", state=KillSwitchState.TRIGGERED))
    assert history.begin_run(plan, NOW, [entry(plan.orders[0])]) is None
    history.set_kill_switch(None, KillSwitchView(scope="GLOBAL", state=KillSwitchState.ARMED))

    exit_plan = ExecutionPlan(
        user_id="user-a",
        strategy_id="strat-1",
        action=ScheduleKind.EXIT,
        run_name="EXIT",
        trade_date=TRADE_DATE,
    )
    history.start_run(exit_plan, NOW)
    assert history.begin_run(plan, NOW, [entry(plan.orders[0])]) is None


def test_the_run_end_writes_all_or_nothing(history, plan):
    entries = [entry(order) for order in plan.orders]
    record_sk = history.begin_run(plan, NOW, entries)
    assert record_sk is not None
    writes = [filled(e, o) for e, o in zip(entries[:-1], plan.orders[:-1], strict=True)]
    record = ExecutionRecord(
        user_id="user-a", strategy_id="strat-1", action=ScheduleKind.ENTRY, run_name="ENTRY",
        trade_date=TRADE_DATE, started_at=NOW, updated_at=NOW, status=ExecutionStatus.COMPLETE,
    )  # fmt: skip
    later = NOW + timedelta(seconds=3)
    stale = OutcomeWrite(entries[-1].model_copy(update={"attempt": 9}), plan.orders[-1], LedgerStatus.FILLED)

    assert history.finish_run(plan, [*writes, stale], [], record, record_sk, retry=False, now=later) is None
    assert history.positions("user-a") == []
    assert history.list_records("user-a", NOW - timedelta(hours=1), NOW)[0] == []
    assert history.runs_to_retry(TRADE_DATE) != []

    stored = history.finish_run(plan, writes, [entries[-1]], record, record_sk, retry=False, now=later)
    assert stored is not None and [e.status for e in stored] == [LedgerStatus.FILLED] * len(writes)
    assert len(history.positions("user-a", "strat-1")) == len(writes)
    assert history.get_ledger("user-a", entries[-1].order_key) is None  # never attempted: taken back
    assert history.list_records("user-a", NOW - timedelta(hours=1), NOW)[0] == [record]
    assert history.runs_to_retry(TRADE_DATE) == []
    # The same fills again (a redelivered transaction) are refused whole: nothing counted twice.
    assert history.finish_run(plan, writes, [], None, record_sk, retry=False, now=later) is None


def test_a_closing_transaction_is_refused_when_the_position_moved_since_it_was_read(history, plan):
    order = plan.orders[0]
    for key in (order.order_key, f"{order.order_key}-b"):  # two fills: the second after the read
        moved = order.model_copy(update={"order_key": key})
        history.claim(entry(moved), TRADE_DATE)
        history.record(
            entry(moved), moved, status=LedgerStatus.FILLED, now=NOW, filled_quantity=order.quantity,
            average_price=Decimal("100"), user_id="user-a", strategy_id="strat-1", opening=True,
        )  # fmt: skip
        if key == order.order_key:
            read = history.positions("user-a", "strat-1")
    net = read[0].net_quantity
    closing_plan = plan_exit("user-a", "strat-1", read, TRADE_DATE, ExitReason.SCHEDULED)
    (close_order,) = closing_plan.orders
    closing = entry(close_order)
    history.claim(closing, TRADE_DATE)
    write = filled(closing, close_order, "90")

    refused = history.finish_run(
        closing_plan, [write], [], None, "rec", retry=True, now=NOW, open_nets={order.position_sk: net}
    )
    assert refused is None and history.get_ledger("user-a", close_order.order_key) == closing
    assert history.finish_run(
        closing_plan, [write], [], None, "rec", retry=True, now=NOW, open_nets={order.position_sk: 2 * net}
    ) is not None  # fmt: skip
    (position,) = history.positions("user-a")
    assert position.net_quantity == net and history.open_positions() == [position]
    assert position.realised_pnl == (Decimal("10") if net < 0 else Decimal("-10")) * abs(net)


def test_a_retry_reads_the_plan_of_the_first_attempt(history, plan):
    first, record_sk, attempts = history.start_run(plan, NOW)
    assert (first, attempts) == (plan, 1)
    other = plan.model_copy(update={"orders": []})
    assert history.start_run(other, NOW + timedelta(minutes=1)) == (plan, record_sk, 2)
    history.mark_retry(plan, True)
    assert history.runs_to_retry(TRADE_DATE) == [("user-a", "strat-1", "ENTRY")]
    history.mark_retry(plan, False)
    history.mark_retry(plan, False)
    assert history.runs_to_retry(TRADE_DATE) == []


def test_records_page_newest_first_and_by_strategy(history):
    def record(minute: int, strategy: str) -> tuple[ExecutionRecord, str]:
        started = NOW + timedelta(minutes=minute)
        made = ExecutionRecord(
            user_id="user-a", strategy_id=strategy, action=ScheduleKind.ENTRY, run_name="ENTRY",
            trade_date=TRADE_DATE, started_at=started, updated_at=started, status=ExecutionStatus.COMPLETE,
        )  # fmt: skip
        return made, keys.execution_record_sk(started.isoformat(), strategy, "ENTRY")

    made = [record(minute, "strat-1" if minute % 3 else "strat-2") for minute in range(8)]
    for one, record_sk in made:
        history.put_record(one, record_sk)
    other_user = made[0][0].model_copy(update={"user_id": "user-b"})
    history.put_record(other_user, made[0][1])

    def every(**scope: Any) -> list[datetime]:
        found: list[datetime] = []
        token = None
        while True:
            page, token = history.list_records(
                "user-a", NOW, NOW + timedelta(hours=1), limit=3, next_token=token, **scope
            )
            assert len(page) <= 3
            found += [r.started_at for r in page]
            if token is None:
                return found

    assert every() == sorted((r.started_at for r, _ in made), reverse=True)
    assert every(strategy_id="strat-2") == sorted(
        (r.started_at for r, _ in made if r.strategy_id == "strat-2"), reverse=True
    )
    with pytest.raises(BadRequestError):
        history.list_records("user-a", NOW, NOW, next_token="forged")
    history.annotate_record("user-a", TRADE_DATE, "strat-1", "ENTRY", "note")  # no run: nothing


def test_peaks_rise_only_and_kill_switch_operations_count_for_their_press(history):
    history.raise_peak("user-a", "strat-1", TRADE_DATE, Decimal("500"))
    history.raise_peak("user-a", "strat-1", TRADE_DATE, Decimal("300"))
    assert history.mtm_peaks([("user-a", "strat-1"), ("user-a", "strat-2")], TRADE_DATE) == {
        ("user-a", "strat-1"): Decimal("500")
    }

    history.set_kill_switch("user-b", KillSwitchView(scope="USER", state=KillSwitchState.TRIGGERED))
    assert history.pressed_kill_switches(["user-a", "user-b"]) == (False, {"user-b"})
    assert history.kill_switch("user-a").state is KillSwitchState.ARMED
    press = KillSwitchOperation(operation_id="op-1", scope="USER", started_at=NOW, users_total=1)
    history.start_operation("user-b", press)
    history.count_operation("user-b", "op-1", exits_queued=2, users_done=1)
    history.count_operation("user-b", "op-0", exits_queued=5)  # an older press: nothing
    found = history.operation("user-b")
    assert found is not None and (found.exits_queued, found.users_done) == (2, 1)


def test_an_armed_entry_is_stored_once_listed_for_its_day_and_disarmed(history, plan):
    armed = ArmedEntry(
        user_id="user-a", strategy_id="strat-1", trade_date=TRADE_DATE, run_name="LEG1.L1",
        kind=ArmedKind.RE_ENTRY, legs=[1], cycle="L1", when=ReEntryWhen.PREMIUM_RETURNS,
        watched=[WatchedContract(leg_no=1, instrument=plan.orders[0].instrument, side=plan.orders[0].side,
                                 price=Decimal("101.25"))],
        not_before=NOW, not_after=NOW + timedelta(hours=2), armed_at=NOW,
    )  # fmt: skip
    other_day = armed.model_copy(update={"trade_date": TRADE_DATE + timedelta(days=1), "run_name": "RE1"})

    assert history.arm(armed) is True
    assert history.arm(armed.model_copy(update={"cycle": "R9"})) is False  # the first one stands
    assert history.arm(other_day) is True
    assert history.armed_entries(TRADE_DATE) == [armed]
    assert history.get_armed("user-a", TRADE_DATE, "strat-1", "LEG1.L1") == armed
    history.disarm("user-a", TRADE_DATE, "strat-1", "LEG1.L1")
    history.disarm("user-a", TRADE_DATE, "strat-1", "LEG1.L1")  # twice: nothing to do
    assert history.armed_entries(TRADE_DATE) == []
    assert history.get_armed("user-a", TRADE_DATE, "strat-1", "LEG1.L1") is None
    assert history.armed_entries(TRADE_DATE + timedelta(days=1)) == [other_day]


def test_the_engine_enters_and_exits_alike_on_both(history, plan, brokers, clock):
    """The same plans through the engine: the same ledger, positions and P&L on either store."""
    broker = brokers.paper("acct-1")
    engine = ExecutionEngine(history, brokers, clock)
    entered = engine.run(plan)
    assert engine.run(plan).status is ExecutionStatus.COMPLETE  # redelivered: nothing sent twice
    assert len(broker.positions()) == len(plan.orders)
    clock.advance(timedelta(minutes=30))
    closing = plan_exit(
        "user-a", "strat-1", history.positions("user-a", "strat-1"), TRADE_DATE, ExitReason.SCHEDULED
    )
    exited = engine.run(closing)

    assert (entered.status, exited.status) == (ExecutionStatus.COMPLETE, ExecutionStatus.COMPLETE)
    assert all(p.net_quantity == 0 for p in history.positions("user-a")) and history.open_positions() == []
    assert broker.positions() and all(p.quantity == 0 for p in broker.positions())
    ledger = history.ledger_of_day("user-a", TRADE_DATE, "strat-1")
    assert len(ledger) == 2 * len(plan.orders) and {e.status for e in ledger} == {LedgerStatus.FILLED}
    assert history.unfinished_orders(TRADE_DATE) == []
    assert len(history.ledger_created_between(TRADE_DATE, NOW, NOW + timedelta(hours=1))) == len(ledger)
    assert exited.realised_pnl == sum((p.realised_pnl for p in history.positions("user-a")), Decimal("0"))


def test_a_portfolio_reads_the_positions_of_the_day_and_the_open_ones_it_names(history, plan):
    filled, pending = plan.orders[0], plan.orders[1]
    for order in (filled, pending):
        history.claim(entry(order), TRADE_DATE)
    history.record(
        entry(filled), filled, status=LedgerStatus.FILLED, now=NOW, broker_order_id="B1",
        filled_quantity=filled.quantity, average_price=Decimal("101.5"),
        user_id="user-a", strategy_id="strat-1", opening=True,
    )  # fmt: skip

    # The day's orders name their positions: the one that filled exists, the pending one not yet.
    assert [p.position_sk for p in history.day_positions("user-a", TRADE_DATE)] == [filled.position_sk]
    # The next day: a position entered before counts while open, when named (the partition's view).
    next_day = TRADE_DATE + timedelta(days=1)
    assert history.day_positions("user-a", next_day) == []
    carried = history.day_positions("user-a", next_day, [filled.position_sk, pending.position_sk])
    assert [p.position_sk for p in carried] == [filled.position_sk]
    assert history.day_positions("user-b", TRADE_DATE, [filled.position_sk]) == []


def test_a_portfolio_day_keeps_its_highest_peak_and_its_first_exit_queued_once(history):
    from shared_utils.execution.portfolio import PortfolioExit, PortfolioScope, PortfolioState

    user = PortfolioScope(user_id="user-a")
    basket = PortfolioScope(user_id="user-a", basket_id="basket-1")
    assert history.portfolio_states([user, basket], TRADE_DATE) == {}
    history.raise_portfolio_peak(basket, TRADE_DATE, Decimal("500.25"))
    history.raise_portfolio_peak(basket, TRADE_DATE, Decimal("300"))  # lower: the peak stays
    first = PortfolioExit(reason=ExitReason.PORTFOLIO_STOP_LOSS, mtm=Decimal("-5000.50"), at=NOW)
    later = PortfolioExit(
        reason=ExitReason.PORTFOLIO_TARGET, mtm=Decimal("9000"), at=NOW + timedelta(minutes=1)
    )

    assert history.mark_portfolio_exit(basket, TRADE_DATE, first) is True
    assert history.mark_portfolio_exit(basket, TRADE_DATE, later) is False  # the first writer won
    history.portfolio_exit_queued(basket, TRADE_DATE, NOW)
    history.portfolio_exit_queued(basket, TRADE_DATE, NOW + timedelta(minutes=2))  # the first counts
    history.portfolio_exit_queued(user, TRADE_DATE, NOW)  # no exit stored: nothing is queued
    history.raise_portfolio_peak(basket, TRADE_DATE + timedelta(days=1), Decimal("1"))  # the next day's
    history.raise_portfolio_peak(PortfolioScope(user_id="user-b"), TRADE_DATE, Decimal("7"))

    expected = PortfolioState(
        user_id="user-a",
        basket_id="basket-1",
        trade_date=TRADE_DATE,
        peak=Decimal("500.25"),
        exit=first.model_copy(update={"queued_at": NOW}),
    )
    assert history.portfolio_states([user, basket], TRADE_DATE) == {basket: expected}
    assert history.portfolio_day("user-a", TRADE_DATE) == [expected]
    assert [s.peak for s in history.portfolio_day("user-b", TRADE_DATE)] == [Decimal("7")]


def test_in_memory_leases_keep_one_writer_per_strategy() -> None:
    import threading

    from shared_utils.errors import StrategyBusyError
    from shared_utils.execution.memory_store import InMemoryLeases

    leases = InMemoryLeases()
    seen: list[object] = []

    def other_thread() -> None:
        seen.append(leases.renew("user-a", "strat-1"))  # the engine renews from broker threads
        try:
            with leases.hold("user-a", "strat-1"):
                seen.append("held")
        except StrategyBusyError as error:
            seen.append(type(error))

    with leases.hold("user-a", "strat-1"), leases.hold("user-a", "strat-1"):  # re-entrant
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert seen == [True, StrategyBusyError]
    assert leases.renew("user-a", "strat-1") is False
    with leases.hold("user-a", "strat-1"):
        pass
