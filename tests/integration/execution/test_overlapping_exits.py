"""#15, scenario 3: a leg stop-loss and the scheduled exit both closing the same leg, after a
broker outage or in the same minute, never close it twice: the short leg never ends long. After
each scenario the day is flat at the broker and in the ledger, and every order reached the broker
once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from typing import Any

from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.execution.leases import LeaseConfig, StrategyLeases
from shared_utils.execution.models import ExecutionStatus, ExitReason, LedgerStatus
from shared_utils.execution.service import ExecutionService
from shared_utils.market.calendar import TradingCalendar
from tests.integration.execution.conftest import (
    DownBroker,
    SerializedClient,
    TimeoutAfterAccepting,
    condor_body,
    net_quantities,
)

TRADE_DATE = date(2026, 11, 25)
SHORT_CALL = 1  # condor_body's leg 1: SELL CE


class CountingBroker(DownBroker):
    """The paper broker behind an outage switch, counting what reaches it by tag."""

    def __init__(self, inner: Any, delay_s: float = 0.0) -> None:
        super().__init__()
        self.inner = inner
        self.up = True
        self.delay_s = delay_s
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def place(self, order: OrderRequest) -> OrderResult:
        result = super().place(order)  # raises while down: nothing reached the broker
        with self._lock:
            self.sent[order.tag] += 1
        time.sleep(self.delay_s)
        return result


def ledger_positions(platform: Any, sid: str) -> dict[str, int]:
    return {
        p.instrument.key: p.net_quantity for p in platform.store.positions("user-a", sid) if p.net_quantity
    }


def entered(platform: Any, delay_s: float = 0.0) -> tuple[str, CountingBroker]:
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 2})
    broker = CountingBroker(platform.brokers.by_account["acct-1"], delay_s)
    platform.brokers.by_account["acct-1"] = broker
    assert platform.service.enter("user-a", sid, TRADE_DATE).status is ExecutionStatus.COMPLETE
    return sid, broker


def test_a_leg_stop_loss_and_the_scheduled_exit_replayed_after_an_outage_close_the_leg_once(platform):
    sid, broker = entered(platform)
    broker.up = False
    leg = platform.service.exit("user-a", sid, TRADE_DATE, ExitReason.LEG_STOP_LOSS, leg_no=SHORT_CALL)
    scheduled = platform.service.scheduled_exit("user-a", sid, TRADE_DATE)
    assert leg.status is ExecutionStatus.FAILED and scheduled is not None
    assert scheduled.status is ExecutionStatus.FAILED  # both runs planned to buy back the short call

    broker.up = True
    retried = platform.sweep(TRADE_DATE)  # the minute's sweep replays both runs

    assert sorted(r.run_name for r in retried) == ["EXIT", f"LEGSL{SHORT_CALL}"]
    assert all(r.status is ExecutionStatus.COMPLETE for r in retried)
    assert net_quantities(broker.inner) == {} and ledger_positions(platform, sid) == {}
    assert set(broker.sent.values()) == {1} and len(broker.sent) == 8  # 4 entries, 4 exits
    closing = [
        entry
        for run in ("EXIT", f"LEGSL{SHORT_CALL}")
        for entry in platform.store.ledger_of_run("user-a", TRADE_DATE, sid, run)
        if entry.leg_no == SHORT_CALL
    ]
    assert sorted(e.status for e in closing) == [LedgerStatus.FILLED, LedgerStatus.NOT_NEEDED]
    assert platform.store.runs_to_retry(TRADE_DATE) == []


def test_a_leg_stop_loss_and_the_scheduled_exit_in_the_same_minute_never_overlap(platform, aws):
    """Two processes (each its own service and lease client) start both exits together against a
    slow broker: the strategy's lease makes the second wait for the first and plan from what the
    first left, whichever of them wins."""
    sid, broker = entered(platform, delay_s=0.05)

    def process() -> ExecutionService:
        leases = StrategyLeases(
            SerializedClient(aws["dynamodb"]),
            aws["settings"].history_table_name,
            platform.clock,
            # Generous: on a loaded machine the first exit's four slow orders can take seconds,
            # and a waiter that gave up (StrategyBusyError) would leave its exit unrun.
            config=LeaseConfig(wait_s=60.0, poll_s=0.01),
        )
        return ExecutionService(
            platform.store,
            platform.repository,
            lambda _user: platform.brokers,
            platform.market,
            TradingCalendar.default(),
            platform.clock,
            leases=leases,
        )

    start = threading.Barrier(2)
    results: dict[str, Any] = {}

    def leg_stop() -> None:
        service = process()
        start.wait()
        results["leg"] = service.exit("user-a", sid, TRADE_DATE, ExitReason.LEG_STOP_LOSS, leg_no=SHORT_CALL)

    def scheduled() -> None:
        service = process()
        start.wait()
        results["exit"] = service.scheduled_exit("user-a", sid, TRADE_DATE)

    threads = [threading.Thread(target=leg_stop), threading.Thread(target=scheduled)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert set(results) == {"leg", "exit"}  # neither gave up waiting for the other
    assert {r.status for r in results.values()} == {ExecutionStatus.COMPLETE}
    assert net_quantities(broker.inner) == {} and ledger_positions(platform, sid) == {}
    assert set(broker.sent.values()) == {1}
    assert len(broker.sent) == 8  # 4 entries and 4 closing orders: never a second buy-back


def test_an_exit_order_whose_answer_was_lost_and_that_never_reached_the_broker_is_sent_again(platform):
    """Its own UNKNOWN entry is not counted against it: the retry closes the leg, once."""
    sid, broker = entered(platform)
    platform.brokers.by_account["acct-1"] = TimeoutAfterAccepting(broker.inner, timeouts=1, visible=False)

    first = platform.service.scheduled_exit("user-a", sid, TRADE_DATE)
    assert first is not None and first.status is ExecutionStatus.FAILED
    retried = platform.sweep(TRADE_DATE)

    assert [r.status for r in retried] == [ExecutionStatus.COMPLETE]
    assert net_quantities(broker.inner) == {} and ledger_positions(platform, sid) == {}
    statuses = [e.status for e in platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "EXIT")]
    assert statuses == [LedgerStatus.FILLED] * 4
