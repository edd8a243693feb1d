"""A first attempt claims its orders in one transaction and stores its outcomes in one: the faults
that path adds (its closing transaction cancelled, an order that failed inside the engine after
it may have reached the broker, orders never attempted) keep every order sent once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from botocore.exceptions import ClientError

from shared_utils.execution.engine import ExecutionEngine
from shared_utils.execution.models import ExecutionStatus, LedgerStatus
from shared_utils.execution.planning import plan_entry
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from tests.integration.execution.conftest import SerializedClient, net_quantities
from tests.integration.execution.test_placement import expected_net
from tests.unit.execution.builders import allocation, iron_condor

CALENDAR = TradingCalendar.default()
TRADE_DATE = date(2026, 11, 25)


class CancelsTheClosingTransaction:
    """DynamoDB cancels the transaction that stores the run's outcomes (a conflicting write),
    `times` times; every other request goes through."""

    def __init__(self, client, times=1):
        self._client = client
        self.times = times
        self.requests: Counter = Counter()

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if callable(attribute):

            def counted(*args, **kwargs):
                self.requests[name] += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute

    def transact_write_items(self, **kwargs):
        self.requests["transact_write_items"] += 1
        closing = any("Update" in item for item in kwargs["TransactItems"])
        if closing and self.times > 0:
            self.times -= 1
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def test_a_cancelled_closing_transaction_stores_each_outcome_on_its_own_once(aws, brokers, clock, sim):
    client = CancelsTheClosingTransaction(SerializedClient(aws["dynamodb"]))
    store = ExecutionStore(client, aws["settings"].history_table_name)
    engine = ExecutionEngine(store, brokers, clock)
    a, b = brokers.paper("acct-1"), brokers.paper("acct-2")
    plan = plan_entry(
        iron_condor(), [allocation("acct-1", 1), allocation("acct-2", 30)], TRADE_DATE, sim, CALENDAR
    )

    record = engine.run(plan)

    assert client.times == 0 and client.requests["update_item"] > 0  # the step-by-step writes ran
    assert record.status is ExecutionStatus.COMPLETE
    assert net_quantities(a) == expected_net(plan, "acct-1")
    assert net_quantities(b) == expected_net(plan, "acct-2")
    ledger = store.ledger_of_run("user-a", TRADE_DATE, "strat-1", "ENTRY")
    assert len(ledger) == len(plan.orders) and {e.status for e in ledger} == {LedgerStatus.FILLED}
    positions = {
        (p.broker_account_id, p.leg_no): p.net_quantity for p in store.positions("user-a", "strat-1")
    }
    assert positions[("acct-1", 1)] == -65 and positions[("acct-2", 1)] == -1950  # two slices, once each
    listed, _ = store.list_records("user-a", record.started_at - timedelta(hours=1), record.started_at)
    assert [r.status for r in listed] == [ExecutionStatus.COMPLETE]
    assert store.runs_to_retry(TRADE_DATE) == []

    again = engine.run(plan)  # a redelivery: nothing is sent twice
    assert again.status is ExecutionStatus.COMPLETE
    assert net_quantities(b) == expected_net(plan, "acct-2")


class FailsAfterSending:
    """The broker takes the `nth` order and then the adapter fails with an unexpected error:
    the order is at the broker, the engine cannot know it."""

    def __init__(self, inner, nth):
        self.inner, self.nth, self.sent = inner, nth, Counter()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def place(self, order):
        self.sent[order.order_key] += 1
        result = self.inner.place(order)
        if sum(self.sent.values()) == self.nth:
            raise ValueError("the adapter could not parse the broker's answer")
        return result


def test_an_order_that_failed_after_sending_stays_claimed_and_is_reconciled_not_resent(
    aws, brokers, clock, sim, store
):
    engine = ExecutionEngine(store, brokers, clock)
    paper = brokers.paper("acct-1")
    failing = FailsAfterSending(paper, nth=2)
    brokers.by_account["acct-1"] = failing
    plan = plan_entry(iron_condor(), [allocation("acct-1", 1)], TRADE_DATE, sim, CALENDAR)

    first = engine.run(plan)

    assert first.status is ExecutionStatus.PARTIAL
    statuses = [o.status for o in first.brokers[0].orders]
    assert statuses == [LedgerStatus.FILLED, None, None, None]
    ledger = {e.order_key: e.status for e in store.ledger_of_run("user-a", TRADE_DATE, "strat-1", "ENTRY")}
    # The failed order keeps its claim (it may be at the broker); the two never attempted are
    # taken back, so the ledger shows only what may have reached the broker.
    hedge, failed = plan.orders[0].order_key, plan.orders[1].order_key
    assert ledger == {hedge: LedgerStatus.FILLED, failed: LedgerStatus.PENDING}
    assert store.runs_to_retry(TRADE_DATE) != []

    clock.advance(timedelta(minutes=2))  # past the pending lease
    retry = engine.run(plan)

    assert retry.status is ExecutionStatus.COMPLETE
    assert all(count == 1 for count in failing.sent.values()) and len(failing.sent) == 4
    assert net_quantities(paper) == expected_net(plan, "acct-1")
    assert store.runs_to_retry(TRADE_DATE) == []


def test_an_entry_claims_and_stores_in_two_transactions(aws, brokers, clock, sim):
    """The request count a trader pays for at 09:20: one transaction before the first order,
    one after the last, whatever the number of orders."""
    client = CancelsTheClosingTransaction(SerializedClient(aws["dynamodb"]), times=0)
    store = ExecutionStore(client, aws["settings"].history_table_name)
    engine = ExecutionEngine(store, brokers, clock)
    brokers.paper("acct-1"), brokers.paper("acct-2")
    plan = plan_entry(
        iron_condor(), [allocation("acct-1", 1), allocation("acct-2", 30)], TRADE_DATE, sim, CALENDAR
    )

    record = engine.run(plan)

    assert record.status is ExecutionStatus.COMPLETE and len(plan.orders) == 12
    assert dict(client.requests) == {"transact_write_items": 2}
