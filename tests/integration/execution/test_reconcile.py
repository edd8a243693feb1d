"""Know what the broker holds (#15): each minute's check compares every active account's positions
at the broker with the ledger, and flags orders whose outcome stays unknown."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared_utils import keys
from shared_utils.brokers.models import OrderRequest
from shared_utils.brokers.tag import broker_tag
from shared_utils.execution.models import LedgerStatus
from shared_utils.execution.reconcile import LedgerBrokerReconciler
from shared_utils.market.options import Action
from shared_utils.models.common import Product
from shared_utils.models.items import deserialize
from tests.integration.execution.conftest import TimeoutAfterAccepting, condor_body

TRADE_DATE = date(2026, 11, 25)
NOW_RANGE = (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))


class Counted:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = defaultdict(list)

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.values[name].append(value)


def reconciler(platform: Any, metrics: Counted) -> LedgerBrokerReconciler:
    return LedgerBrokerReconciler(
        platform.store,
        lambda _user: platform.brokers,
        platform.clock,
        overdue_after=timedelta(minutes=5),
        check_paper=True,
        metrics=metrics,  # type: ignore[arg-type]
    )


def window(platform: Any) -> tuple[date, Any, Any]:
    now = platform.clock.now()
    return TRADE_DATE, now - timedelta(minutes=5), now


def test_an_order_the_ledger_does_not_know_is_a_mismatch_once_it_lasts_past_one_check(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    metrics = Counted()
    check = reconciler(platform, metrics)
    assert check.reconcile(*window(platform)).position_mismatches == []

    # An order placed outside the platform (by hand, or a duplicate the ledger never heard of).
    paper = platform.brokers.by_account["acct-1"]
    known = platform.store.positions("user-a", sid)[0]
    paper.place(
        OrderRequest(
            order_key="manual",
            tag=broker_tag("manual", paper.name),
            instrument=known.instrument,
            side=Action.SELL,
            quantity=65,
            product=Product.NRML,
        )
    )
    first = check.reconcile(*window(platform))
    platform.clock.advance(timedelta(minutes=1))
    lasting = check.reconcile(*window(platform))

    assert metrics.values["PositionMismatches"] == [0, 0, 1]  # not on the minute it appeared
    [mismatch] = lasting.position_mismatches
    assert first.position_mismatches[0].first_seen == mismatch.first_seen < mismatch.checked_at
    [difference] = mismatch.differences
    assert difference.instrument == known.instrument.key
    assert difference.broker_quantity == known.net_quantity - 65
    assert difference.platform_quantity == known.net_quantity
    stored = platform.store._client.get_item(
        TableName=platform.store._table,
        Key={"pk": {"S": keys.user_pk("user-a")}, "sk": {"S": keys.mismatch_sk(TRADE_DATE, "acct-1")}},
    )["Item"]
    assert "broker_quantity" in deserialize(stored)["differences"]  # the history shows both sides


def test_an_order_whose_outcome_stays_unknown_past_the_bound_is_flagged_and_counted(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    paper = platform.brokers.by_account["acct-1"]

    class NoLookup(TimeoutAfterAccepting):
        def find_order_by_tag(self, tag: str) -> Any:
            from shared_utils.brokers.port import BrokerUnavailableError

            raise BrokerUnavailableError(message="503", broker="PAPER", order_may_exist=False)

    platform.brokers.by_account["acct-1"] = NoLookup(paper, timeouts=1, visible=True)
    platform.service.enter("user-a", sid, TRADE_DATE)
    [unknown] = [
        e
        for e in platform.store.ledger_of_run("user-a", TRADE_DATE, sid, "ENTRY")
        if e.status is LedgerStatus.UNKNOWN
    ]
    metrics = Counted()
    check = reconciler(platform, metrics)

    soon = check.reconcile(*window(platform))
    platform.clock.advance(timedelta(minutes=5))
    late = check.reconcile(*window(platform))

    assert soon.stuck_orders == []
    assert [o.order_key for o in late.stuck_orders] == [unknown.order_key]
    assert metrics.values["OrdersOutcomeOverdue"] == [0, 1]
    item = platform.store._client.get_item(
        TableName=platform.store._table,
        Key={"pk": {"S": keys.user_pk("user-a")}, "sk": {"S": keys.ledger_sk(unknown.order_key)}},
    )["Item"]
    assert "overdue_flagged_at" in item
    [record] = [
        r
        for r in platform.store.list_records("user-a", NOW_RANGE[0], NOW_RANGE[1])[0]
        if r.run_name == "ENTRY"
    ]
    assert f"outcome still UNKNOWN since {unknown.updated_at.isoformat()}" in (record.reason or "")
    again = check.reconcile(*window(platform))  # flagged once, noted once
    assert len(again.stuck_orders) == 1 and metrics.values["OrdersOutcomeOverdue"] == [0, 1, 1]
    [record] = [
        r
        for r in platform.store.list_records("user-a", NOW_RANGE[0], NOW_RANGE[1])[0]
        if r.run_name == "ENTRY"
    ]
    assert record.reason.count("outcome still UNKNOWN") == 1
