from __future__ import annotations

import inspect
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.models import OrderRequest, OrderResult, OrderState
from shared_utils.brokers.paper import PaperBroker
from shared_utils.brokers.port import Broker, BrokerLoginNeededError, BrokerUnavailableError
from shared_utils.execution.engine import EngineConfig, ExecutionEngine
from shared_utils.execution.models import BrokerStatus, ExecutionStatus, LedgerStatus
from shared_utils.execution.planning import plan_entry
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import Action
from shared_utils.models.broker_account import LOGIN_NEEDED_REASON
from tests.integration.execution.conftest import Brokers, DownBroker, TimeoutAfterAccepting, net_quantities
from tests.unit.execution.builders import allocation, iron_condor, market

CALENDAR = TradingCalendar.default()
TRADE_DATE = date(2026, 11, 25)


def expected_net(plan, account):
    net: dict[str, int] = {}
    for order in plan.orders_of(account):
        signed = order.quantity if order.side is Action.BUY else -order.quantity
        net[order.instrument.key] = net.get(order.instrument.key, 0) + signed
    return net


def test_the_same_trigger_three_times_places_one_order_per_leg_broker_and_slice(engine, brokers, sim, store):
    a, b = brokers.paper("acct-1"), brokers.paper("acct-2")
    # 30 lots on acct-2: every leg is cut into two freeze slices.
    plan = plan_entry(
        iron_condor(), [allocation("acct-1", 1), allocation("acct-2", 30)], TRADE_DATE, sim, CALENDAR
    )
    assert len(plan.orders) == 4 + 8

    records = [engine.run(plan) for _ in range(3)]

    assert [r.status for r in records] == [ExecutionStatus.COMPLETE] * 3
    assert net_quantities(a) == expected_net(plan, "acct-1")
    assert net_quantities(b) == expected_net(plan, "acct-2")
    ledger = store.ledger_of_run("user-a", TRADE_DATE, "strat-1", "ENTRY")
    assert len(ledger) == 12
    assert all(entry.status is LedgerStatus.FILLED and len(entry.broker_order_ids) == 1 for entry in ledger)
    # The history shows one entry record, updated by each delivery.
    listed, _ = store.list_records("user-a", records[0].started_at - timedelta(days=1), records[0].started_at)
    assert len(listed) == 1
    assert listed[0].attempts == 3
    positions = store.positions("user-a", "strat-1")
    assert {(p.broker_account_id, p.leg_no): p.net_quantity for p in positions} == {
        ("acct-1", 1): -65,
        ("acct-1", 2): 65,
        ("acct-1", 3): -65,
        ("acct-1", 4): 65,
        ("acct-2", 1): -1950,
        ("acct-2", 2): 1950,
        ("acct-2", 3): -1950,
        ("acct-2", 4): 1950,
    }


def test_a_redelivery_after_the_market_moved_places_the_stored_plan_not_new_strikes(
    engine, brokers, clock, store
):
    broker = brokers.paper("acct-1")
    first = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, market(clock), CALENDAR)
    moved = market(clock, {"NIFTY": Decimal("26420")})
    second = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, moved, CALENDAR)
    assert {o.instrument.key for o in first.orders} != {o.instrument.key for o in second.orders}

    engine.run(first)
    engine.run(second)

    assert net_quantities(broker) == expected_net(first, "acct-1")


def test_a_timeout_is_reconciled_by_tag_and_never_resent(engine, brokers, clock, sim, store):
    paper = brokers.paper("acct-1")
    brokers.by_account["acct-1"] = TimeoutAfterAccepting(paper, timeouts=1)
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan)

    assert record.status is ExecutionStatus.COMPLETE
    assert net_quantities(paper) == expected_net(plan, "acct-1")
    first = store.get_ledger("user-a", plan.orders[0].order_key)
    assert first is not None and first.status is LedgerStatus.FILLED and len(first.broker_order_ids) == 1


def test_a_timeout_with_no_order_behind_it_is_placed_once_by_the_retry(engine, brokers, clock, sim, store):
    paper = brokers.paper("acct-1")
    flaky = TimeoutAfterAccepting(paper, timeouts=1, visible=False)
    brokers.by_account["acct-1"] = flaky
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, sim, CALENDAR)

    first = engine.run(plan)
    assert first.status is ExecutionStatus.FAILED
    assert first.brokers[0].orders[0].status is LedgerStatus.UNKNOWN
    # Nothing after the unknown first leg went out (the hedge must precede the sells).
    assert net_quantities(paper) == {}

    clock.advance(timedelta(seconds=30))
    retry = engine.run(plan)

    assert retry.status is ExecutionStatus.COMPLETE
    assert net_quantities(paper) == expected_net(plan, "acct-1")


def test_one_broker_down_the_others_fill_and_the_retry_completes_only_the_missing_one(
    engine, brokers, clock, sim, store
):
    a, c = brokers.paper("acct-1"), brokers.paper("acct-3")
    down = DownBroker()
    brokers.by_account["acct-2"] = down
    allocations = [allocation("acct-1", 1), allocation("acct-2", 2), allocation("acct-3", 3)]
    plan = plan_entry(iron_condor(), allocations, TRADE_DATE, sim, CALENDAR)

    first = engine.run(plan)

    assert first.status is ExecutionStatus.PARTIAL
    by_account = {b.broker_account_id: b for b in first.brokers}
    assert by_account["acct-1"].status is BrokerStatus.COMPLETE
    assert by_account["acct-3"].status is BrokerStatus.COMPLETE
    assert by_account["acct-2"].status is BrokerStatus.FAILED
    assert "connection refused" in (by_account["acct-2"].reason or "")
    assert net_quantities(a) == expected_net(plan, "acct-1")
    assert net_quantities(c) == expected_net(plan, "acct-3")

    down.inner = brokers.paper("acct-2-recovered")
    brokers.by_account["acct-2"] = down
    down.up = True
    retry = engine.run(plan)

    assert retry.status is ExecutionStatus.COMPLETE
    assert net_quantities(down.inner) == expected_net(plan, "acct-2")
    # the brokers that had filled got nothing more
    assert net_quantities(a) == expected_net(plan, "acct-1")
    assert net_quantities(c) == expected_net(plan, "acct-3")


def test_a_slow_broker_does_not_hold_up_the_others(engine, brokers, sim):
    brokers.paper("acct-1")
    release = threading.Event()
    slow = brokers.paper("acct-2")
    original = slow.place
    filled_fast: list[float] = []
    released_in_time: list[bool] = []

    def slow_place(order):
        # Run one account after the other and this waits out its timeout: False.
        released_in_time.append(release.wait(timeout=2))
        return original(order)

    slow.place = slow_place  # type: ignore[method-assign]
    fast = brokers.by_account["acct-1"]
    fast_place = fast.place

    def timed_place(order):
        result = fast_place(order)
        filled_fast.append(time.monotonic())
        if len(filled_fast) == 4:
            release.set()  # the slow broker only answers once the fast one is done
        return result

    fast.place = timed_place  # type: ignore[method-assign]
    plan = plan_entry(
        iron_condor(), [allocation("acct-2", 1), allocation("acct-1", 1)], TRADE_DATE, sim, CALENDAR
    )

    record = engine.run(plan)

    assert record.status is ExecutionStatus.COMPLETE
    assert len(filled_fast) == 4
    assert released_in_time == [True, True, True, True]


def test_risk_limits_block_that_brokers_orders_and_record_why(engine, brokers, sim):
    a = brokers.paper("acct-1")
    b = brokers.paper("acct-2")
    allocations = [
        allocation("acct-1", 5, max_lots_per_order=2),
        allocation("acct-2", 1, max_orders_per_day=10),
    ]
    plan = plan_entry(iron_condor(), allocations, TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan, {al.broker_account_id: al for al in allocations})

    by_account = {x.broker_account_id: x for x in record.brokers}
    assert by_account["acct-1"].status is BrokerStatus.BLOCKED
    assert "max_lots_per_order 2" in (by_account["acct-1"].reason or "")
    assert net_quantities(a) == {}
    assert by_account["acct-2"].status is BrokerStatus.COMPLETE
    assert net_quantities(b) == expected_net(plan, "acct-2")
    assert record.status is ExecutionStatus.PARTIAL


def test_max_orders_per_day_counts_the_days_earlier_orders(engine, brokers, sim):
    brokers.paper("acct-1")
    limits = allocation("acct-1", 1, max_orders_per_day=3)
    plan = plan_entry(iron_condor(), [limits], TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan, {"acct-1": limits})

    assert record.status is ExecutionStatus.FAILED
    assert record.brokers[0].status is BrokerStatus.BLOCKED
    assert "4 orders today would exceed max_orders_per_day 3" in (record.brokers[0].reason or "")


def test_an_unresolved_plan_is_recorded_as_not_entered_with_its_reason(engine, store):
    from shared_utils.execution.market import ChainBook

    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, ChainBook(), CALENDAR)

    record = engine.run(plan)

    assert record.status is ExecutionStatus.NOT_ENTERED
    listed, _ = store.list_records("user-a", record.started_at - timedelta(hours=1), record.started_at)
    assert listed[0].reason is not None and "no fresh quote" in listed[0].reason


class CrashOnceBeforeLedgerFill:
    """The process dies once while storing a run's fills in one transaction, and once right
    after a fill reached its position but before the ledger said FILLED (a retry's step-by-step
    writes)."""

    def __init__(self, client):
        self._client = client
        self.crashed_in_transaction = False
        self.crashed = False

    def __getattr__(self, name):
        return getattr(self._client, name)

    @staticmethod
    def _is_ledger_fill(update):
        values = update.get("ExpressionAttributeValues", {})
        return update["Key"]["sk"]["S"].startswith("ORDER#") and {"S": "FILLED"} in [
            v for k, v in values.items() if k.startswith(":v")
        ]

    def transact_write_items(self, **kwargs):
        updates = [item["Update"] for item in kwargs["TransactItems"] if "Update" in item]
        if not self.crashed_in_transaction and any(self._is_ledger_fill(u) for u in updates):
            self.crashed_in_transaction = True
            raise RuntimeError("process killed")
        return self._client.transact_write_items(**kwargs)

    def update_item(self, **kwargs):
        if self._is_ledger_fill(kwargs) and not self.crashed:
            self.crashed = True
            raise RuntimeError("process killed")
        return self._client.update_item(**kwargs)


def test_crashes_while_storing_fills_are_completed_once_by_the_retries(aws, brokers, clock, sim):
    from shared_utils.execution.engine import ExecutionEngine
    from shared_utils.execution.store import ExecutionStore
    from tests.integration.execution.conftest import SerializedClient

    crashing = CrashOnceBeforeLedgerFill(SerializedClient(aws["dynamodb"]))
    store = ExecutionStore(crashing, aws["settings"].history_table_name)
    engine = ExecutionEngine(store, brokers, clock)
    paper = brokers.paper("acct-1")
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, sim, CALENDAR)

    with pytest.raises(RuntimeError, match="process killed"):
        engine.run(plan)  # every order filled at the broker, none of it stored
    assert {store.get_ledger("user-a", o.order_key).status for o in plan.orders} == {LedgerStatus.PENDING}
    assert store.positions("user-a", "strat-1") == []

    clock.advance(timedelta(minutes=2))  # past the lease of the dead process
    second = engine.run(plan)  # reconciles by tag, dies between the first position and its ledger
    assert crashing.crashed and second.status is ExecutionStatus.FAILED
    assert store.get_ledger("user-a", plan.orders[0].order_key).status is LedgerStatus.PENDING

    clock.advance(timedelta(minutes=2))
    third = engine.run(plan)

    assert third.status is ExecutionStatus.COMPLETE
    assert net_quantities(paper) == expected_net(plan, "acct-1")  # each order sent once
    positions = {p.leg_no: p.net_quantity for p in store.positions("user-a", "strat-1")}
    assert positions == {1: -65, 2: 65, 3: -65, 4: 65}


class LookupFailing(TimeoutAfterAccepting):
    """Accepts the first order but its answer is lost, and then its order lookup answers 5xx
    `lookup_failures` times: the duplicate the engine must never send."""

    def __init__(self, inner: PaperBroker, lookup_failures: int) -> None:
        super().__init__(inner, timeouts=1, visible=True)
        self.lookup_failures = lookup_failures
        self.sent: list[str] = []

    def place(self, order: OrderRequest) -> OrderResult:
        self.sent.append(order.order_key)
        return super().place(order)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        if self.lookup_failures > 0:
            self.lookup_failures -= 1
            raise BrokerUnavailableError(
                message="503 Service Unavailable", broker="PAPER", order_may_exist=False
            )
        return super().find_order_by_tag(tag)


def test_an_order_whose_answer_was_lost_is_not_resent_while_the_lookup_fails(
    engine, brokers, clock, sim, store
):
    paper = brokers.paper("acct-1")
    flaky = LookupFailing(paper, lookup_failures=2)
    brokers.by_account["acct-1"] = flaky
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, sim, CALENDAR)
    first_key = plan.orders[0].order_key

    first = engine.run(plan)  # the answer is lost and the lookup fails
    clock.advance(timedelta(seconds=30))
    second = engine.run(plan)  # the retry: the lookup fails again

    for record in (first, second):
        assert record.status is ExecutionStatus.FAILED
        assert record.brokers[0].orders[0].status is LedgerStatus.UNKNOWN
    assert "not resent" in (second.brokers[0].orders[0].reason or "")
    assert flaky.sent == [first_key]  # sent once, and nothing after the unknown hedge
    clock.advance(timedelta(seconds=30))
    third = engine.run(plan)  # the lookup answers: the order is found, the rest goes out

    assert third.status is ExecutionStatus.COMPLETE
    assert flaky.sent.count(first_key) == 1
    assert net_quantities(paper) == expected_net(plan, "acct-1")
    entry = store.get_ledger("user-a", first_key)
    assert entry is not None and entry.status is LedgerStatus.FILLED and len(entry.broker_order_ids) == 1


class _NeedsLogin(Brokers):
    """`acct-2` has no session its broker accepts (the morning marked it NEEDS_LOGIN)."""

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        if broker_account_id == "acct-2":
            raise BrokerLoginNeededError(message=f"{LOGIN_NEEDED_REASON}: account acct-2 is NEEDS_LOGIN")
        return super().broker_for(broker_account_id, broker)


def test_an_entry_places_nothing_on_an_account_that_needs_a_login_and_never_retries_it(store, clock, sim):
    noticed: list[tuple[str, list[str]]] = []
    brokers = _NeedsLogin(clock, sim.price)
    a = brokers.paper("acct-1")
    engine = ExecutionEngine(
        store, brokers, clock, on_login_needed=lambda user, accounts: noticed.append((user, accounts))
    )
    plan = plan_entry(iron_condor(), [allocation("acct-1"), allocation("acct-2")], TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan)

    by_account = {x.broker_account_id: x for x in record.brokers}
    assert by_account["acct-2"].status is BrokerStatus.BLOCKED
    assert (by_account["acct-2"].reason or "").startswith(LOGIN_NEEDED_REASON)
    assert by_account["acct-1"].status is BrokerStatus.COMPLETE and net_quantities(a)
    assert record.status is ExecutionStatus.PARTIAL
    assert noticed == [(plan.user_id, ["acct-2"])]
    assert plan.strategy_id not in {strategy for _, strategy, _ in store.runs_to_retry(TRADE_DATE)}


def test_an_entry_none_of_whose_accounts_can_trade_is_not_entered(store, clock, sim):
    brokers = _NeedsLogin(clock, sim.price)
    engine = ExecutionEngine(store, brokers, clock)
    plan = plan_entry(iron_condor(), [allocation("acct-2")], TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan)

    assert record.status is ExecutionStatus.NOT_ENTERED
    assert LOGIN_NEEDED_REASON in (record.reason or record.brokers[0].reason or "")


class OpenUntilPolled(DownBroker):
    """Accepts each order as resting (OPEN) and reports it filled only from the second lookup on."""

    def __init__(self, inner: PaperBroker) -> None:
        super().__init__()
        self.up = True
        self.inner = inner
        self.lookups: dict[str, int] = {}

    def place(self, order: OrderRequest) -> OrderResult:
        assert self.inner is not None
        placed = self.inner.place(order)
        return placed.model_copy(update={"status": OrderState.OPEN})

    def order_status(self, broker_order_id: str) -> OrderResult:
        assert self.inner is not None
        self.lookups[broker_order_id] = self.lookups.get(broker_order_id, 0) + 1
        found = self.inner.order_status(broker_order_id)
        if self.lookups[broker_order_id] < 2:
            return found.model_copy(update={"status": OrderState.OPEN})
        return found


def test_an_order_resting_at_the_exchange_is_polled_after_real_waits_until_filled(store, clock, sim):
    brokers = Brokers(clock, sim.price)
    resting = OpenUntilPolled(brokers.paper("acct-1"))
    brokers.by_account["acct-1"] = resting
    waits: list[float] = []
    engine = ExecutionEngine(store, brokers, clock, sleep=waits.append)
    plan = plan_entry(iron_condor(), [allocation("acct-1")], TRADE_DATE, sim, CALENDAR)

    record = engine.run(plan)

    assert record.status is ExecutionStatus.COMPLETE
    assert {store.get_ledger("user-a", o.order_key).status for o in plan.orders} == {LedgerStatus.FILLED}
    interval = EngineConfig().fill_poll_interval_s
    assert waits == [interval] * 2 * len(plan.orders)  # two lookups per order, a wait before each
    # Deployed, nothing passes `sleep`: the polls wait in real time, not back to back.
    assert inspect.signature(ExecutionEngine).parameters["sleep"].default is time.sleep
