"""A run whose process dies between an order's ledger entry and the broker's answer is finished by
the minute's sweep: every order reaches the broker once, and the day ends flat (#15, scenario 1).

The death is a `BaseException` raised inside the broker call after the broker accepted the order:
nothing in the engine catches it, as nothing runs after a SIGKILL."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.brokers.paper import PaperBroker
from shared_utils.execution.models import ExecutionStatus, LedgerStatus
from shared_utils.keys import ScheduleKind
from tests.integration.execution.conftest import condor_body, net_quantities, timer_request

TRADE_DATE = date(2026, 11, 25)


class ProcessDied(BaseException):
    """The process is gone: no handler, no finally of the engine's, no record."""


class DiesInsideTheNthOrder:
    """A paper broker that accepts the Nth order and then takes the process down with it."""

    def __init__(self, inner: PaperBroker, nth: int) -> None:
        self.inner = inner
        self.nth = nth
        self.sent: Counter[str] = Counter()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def place(self, order: OrderRequest) -> OrderResult:
        self.sent[order.order_key] += 1
        result = self.inner.place(order)
        if sum(self.sent.values()) == self.nth:
            raise ProcessDied
        return result


request = timer_request


def test_a_run_killed_inside_a_broker_call_is_finished_by_the_sweep_and_the_day_ends_flat(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    paper = platform.brokers.by_account["acct-1"]
    dying = DiesInsideTheNthOrder(paper, nth=2)  # the hedge is filled, the first sell is in flight
    platform.brokers.by_account["acct-1"] = dying

    with pytest.raises(ProcessDied):
        platform.execute(request(sid, ScheduleKind.ENTRY))
    ledger = {e.leg_no: e.status for e in platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")}
    # Every order was claimed before the first broker call; the run died before storing any
    # outcome: the hedge's fill and the sell in flight are known only to the broker.
    assert list(ledger.values()) == [LedgerStatus.PENDING] * 4 and len(dying.sent) == 2

    # A fresh process: the minute's sweep, once the order's lease has run out.
    dying.nth = 0
    platform.clock.advance(timedelta(seconds=90))
    resumed = platform.sweep(TRADE_DATE)

    assert [r.status for r in resumed] == [ExecutionStatus.COMPLETE]
    assert all(count == 1 for count in dying.sent.values()) and len(dying.sent) == 4
    entry = platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")
    assert {e.status for e in entry} == {LedgerStatus.FILLED}
    assert platform.store.runs_to_retry(TRADE_DATE) == []

    platform.clock.advance(timedelta(hours=5))
    platform.execute(request(sid, ScheduleKind.EXIT))
    assert net_quantities(paper) == {}
    assert all(p.net_quantity == 0 for p in platform.store.positions("user-a", sid))
    assert all(count == 1 for count in dying.sent.values())  # the exit's orders too: once each
