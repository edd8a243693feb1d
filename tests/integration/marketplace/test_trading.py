"""Subscriptions trade: the schedule trigger runs a published strategy once more per ACTIVE
subscription, on the subscriber's own accounts with the subscriber's lots, through the real
executor and engine on moto (paper brokers per account). The fan-out reads one subscription per
page here, so every test also walks the page-by-page messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.clock import to_ist
from shared_utils.execution.executor import StrategyRunExecutor
from shared_utils.execution.exits import PositionStopLossMonitor
from shared_utils.execution.requests import ExecutionRequest
from shared_utils.execution.runs import RunKind
from shared_utils.execution.service import ExecutionService
from shared_utils.market.calendar import TradingCalendar
from shared_utils.marketplace.models import ListingPublish, SubscriptionCreate, SubscriptionUpdate
from shared_utils.marketplace.repository import DynamoMarketplaceRepository
from shared_utils.marketplace.service import MarketplaceService
from shared_utils.marketplace.trading import (
    QueuedExecutions,
    SubscribedStrategies,
    SubscriberRuns,
    SubscriberStrategyLookup,
)
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.strategy import StrategyUpdate
from shared_utils.timer.plan import events_for
from shared_utils.timer.schedule_view import RepositorySchedule
from shared_utils.timer.triggers import DynamoTriggerClaims, trigger_due_strategies
from tests.integration.execution.conftest import condor_body, net_quantities
from tests.unit.execution.builders import NOW

CALENDAR = TradingCalendar.default()
EXIT_TICK = NOW + timedelta(hours=5, minutes=40)  # 15:10 IST
ADMIN = "admin-1"


class Market:
    """The platform of one test: the marketplace service, the fan-out and the timer trigger."""

    def __init__(self, aws: dict[str, Any], platform: Any) -> None:
        self.platform = platform
        settings = aws["settings"]
        self.repository = DynamoMarketplaceRepository(
            aws["dynamodb"], settings.trading_table_name, platform.clock
        )
        self.service = MarketplaceService(
            self.repository, platform.repository, platform.accounts, platform.store, platform.clock
        )
        self.claims = DynamoTriggerClaims(aws["dynamodb"], settings.trading_table_name)
        self.fan_out = QueuedExecutions(platform.queue, self.repository)
        self.executor = StrategyRunExecutor(
            platform.service,
            platform.queue,
            platform.clock,
            subscribers=SubscriberRuns(
                self.repository, platform.repository, self.service_for, platform.queue, page_size=1
            ),
            kill_switch=platform.kill_switch,
            entry_max_lag=timedelta(minutes=2),
        )
        self.outcomes: list[str] = []
        self.strategy_id = platform.strategy(ADMIN, condor_body(), {"admin-paper": 1})
        self.basket_id = platform._baskets[ADMIN]

    def service_for(self, reader: SubscribedStrategies) -> ExecutionService:
        p = self.platform
        return ExecutionService(
            p.store, reader, lambda _user: p.brokers, p.market, CALENDAR, p.clock, leases=p.leases
        )

    def publish(self) -> None:
        terms = ListingPublish.model_validate(
            {
                "category": "INCOME",
                "minimum_capital": 100000,
                "risk_level": "MEDIUM",
                "fee": {"monthly_fee": 500, "performance_fee_pct": 20},
            }
        )
        self.service.publish(ADMIN, True, self.basket_id, terms)

    def subscribe(self, user: str, lots: dict[str, tuple[str, int]]) -> None:
        for account, (broker, _lots) in lots.items():
            self.platform.accounts.put_account(
                BrokerAccount(user_id=user, broker_account_id=account, broker=broker, paper=True)
            )
            self.platform.brokers.paper(account)
        allocations = [{"broker_account_id": account, "lots": count} for account, (_b, count) in lots.items()]
        self.service.subscribe(
            user, SubscriptionCreate.model_validate({"basket_id": self.basket_id, "allocations": allocations})
        )

    def trigger(self, tick: datetime, phase: str = "morning", run: bool = True) -> list[str]:
        (event,) = [
            e
            for e in events_for(tick, phase, to_ist(tick).date())
            if e.detail_type == "ScheduleStrategyTrigger"
        ]
        schedule = RepositorySchedule(self.platform.repository)
        report = trigger_due_strategies(
            event.envelope, schedule, schedule, CALENDAR, self.claims, self.fan_out
        )
        if run:
            self.run_queued()
        return report.requested

    def run_queued(self) -> None:
        self.outcomes = self.platform.queue.drain(self.executor)

    def held(self, account: str) -> dict[str, int]:
        return net_quantities(self.platform.brokers.by_account[account])


@pytest.fixture
def market(aws: dict[str, Any], platform: Any) -> Market:
    return Market(aws, platform)


def test_a_due_published_strategy_trades_on_every_active_subscribers_own_accounts(market):
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2), "t1-angel": ("ANGEL_ONE", 1)})
    market.subscribe("trader-2", {"t2-finvasia": ("FINVASIA", 3)})

    requested = market.trigger(NOW)

    assert requested == [f"{ADMIN}/{market.strategy_id}/ENTRY@0400"]
    admin = market.held("admin-paper")
    assert len(admin) == 4
    for account, lots in (("t1-zerodha", 2), ("t1-angel", 1), ("t2-finvasia", 3)):
        held = market.held(account)
        assert held.keys() == admin.keys(), account
        assert {key: quantity // lots for key, quantity in held.items()} == admin, account
    store = market.platform.store
    trade_date = to_ist(NOW).date()
    t1_orders = store.ledger_of_day("trader-1", trade_date, market.strategy_id)
    assert {entry.broker_account_id for entry in t1_orders} == {"t1-zerodha", "t1-angel"}
    assert {
        entry.broker_account_id for entry in store.ledger_of_day("trader-2", trade_date, market.strategy_id)
    } == {"t2-finvasia"}
    assert {
        entry.broker_account_id for entry in store.ledger_of_day(ADMIN, trade_date, market.strategy_id)
    } == {"admin-paper"}


def test_a_redelivered_request_places_no_second_order_for_any_subscriber(market):
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2)})
    market.trigger(NOW)
    before = market.held("t1-zerodha")
    request = ExecutionRequest(
        user_id=ADMIN,
        strategy_id=market.strategy_id,
        basket_id=market.basket_id,
        action="ENTRY",
        scheduled_at=NOW,
        trade_date=to_ist(NOW).date(),
        strategy_version=1,
        tick=NOW,
    )

    market.fan_out.request_executions([request])
    market.fan_out.request_executions([request])
    queued = list(market.platform.queue.sent)
    market.run_queued()

    assert [run.kind for run in queued] == [RunKind.ENTRY, RunKind.SUBSCRIBERS] * 2

    assert market.held("t1-zerodha") == before
    orders = market.platform.store.ledger_of_day("trader-1", to_ist(NOW).date(), market.strategy_id)
    assert len(orders) == 4


def test_runs_that_reach_the_executor_after_the_bound_place_nothing_for_owner_or_subscriber(market):
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 1)})
    market.trigger(NOW, run=False)
    market.platform.clock.set(NOW + timedelta(minutes=3))  # a backlog: past ENTRY_MAX_LAG

    market.run_queued()

    assert market.held("t1-zerodha") == {} and market.held("admin-paper") == {}
    for user in ("trader-1", ADMIN):
        records, _ = market.platform.store.list_records(
            user, NOW - timedelta(hours=1), NOW + timedelta(hours=1)
        )
        assert [(r.status.value, r.reason) for r in records] == [
            ("NOT_ENTERED", "the entry arrived 180 s after its minute")
        ], user


def test_paused_and_unsubscribed_subscriptions_place_nothing(market):
    market.publish()
    market.subscribe("paused", {"p-zerodha": ("ZERODHA", 1)})
    market.subscribe("gone", {"g-zerodha": ("ZERODHA", 1)})
    market.subscribe("active", {"a-zerodha": ("ZERODHA", 1)})
    market.service.update_subscription(
        "paused", market.basket_id, SubscriptionUpdate(version=1, status="PAUSED")
    )
    market.service.unsubscribe("gone", market.basket_id, None)

    market.trigger(NOW)

    assert market.held("p-zerodha") == {}
    assert market.held("g-zerodha") == {}
    assert len(market.held("a-zerodha")) == 4


def test_an_admin_edit_applies_to_subscribers_from_the_next_trigger(market):
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 1)})
    current = market.platform.repository.get_strategy(ADMIN, market.strategy_id)
    two_legs = [leg.model_dump(mode="json") for leg in current.legs[:2]]
    market.platform.repository.update_strategy(
        ADMIN,
        market.strategy_id,
        StrategyUpdate.model_validate({"version": current.version, "legs": two_legs}),
    )

    market.trigger(NOW)

    assert len(market.held("t1-zerodha")) == 2


def test_unpublishing_stops_new_entries_but_open_positions_exit_on_schedule_and_show_in_the_statement(
    market,
):
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2)})
    market.subscribe("late", {"l-zerodha": ("ZERODHA", 1)})
    market.service.update_subscription(
        "late", market.basket_id, SubscriptionUpdate(version=1, status="PAUSED")
    )
    market.trigger(NOW)
    assert len(market.held("t1-zerodha")) == 4
    market.service.unpublish(ADMIN, True, market.basket_id, None)
    market.platform.levels["NIFTY"] = Decimal("26110")
    market.platform.clock.set(EXIT_TICK)

    market.trigger(EXIT_TICK, "afternoon")

    assert market.held("t1-zerodha") == {}  # flat: every leg bought or sold back
    assert all(p.net_quantity == 0 for p in market.platform.store.positions("trader-1", market.strategy_id))
    assert market.held("l-zerodha") == {}
    statement = market.service.subscriber_statement("trader-1", market.basket_id, "2026-11")
    records, _ = market.platform.store.list_records(
        "trader-1", NOW - timedelta(days=1), EXIT_TICK + timedelta(hours=1), strategy_id=market.strategy_id
    )
    exits = [record for record in records if record.action == "EXIT"]
    assert len(exits) == 1 and statement.exits == 1 and exits[0].realised_pnl != 0
    assert statement.realised_pnl == exits[0].realised_pnl
    assert statement.monthly_fee == Decimal("500.00")
    expected_performance = max(Decimal("0"), exits[0].realised_pnl) * Decimal("0.20")
    assert statement.performance_fee == expected_performance.quantize(Decimal("0.01"))
    assert statement.total_due == statement.monthly_fee + statement.performance_fee
    # after unpublishing, nobody can start a new subscription, and the next entry trades for no one
    market.platform.clock.set(NOW + timedelta(days=1))
    market.trigger(NOW + timedelta(days=1))
    orders = market.platform.store.ledger_of_day(
        "trader-1", to_ist(NOW + timedelta(days=1)).date(), market.strategy_id
    )
    assert orders == []


def test_the_timers_requester_queues_the_fan_out_to_subscriptions(aws):
    requester = aws["platform"].execution_requester()

    assert isinstance(requester, QueuedExecutions)


def test_the_published_strategys_stop_loss_protects_subscriber_positions(market):
    p = market.platform
    current = p.repository.get_strategy(ADMIN, market.strategy_id)
    risk = {"mtm_stop_loss": 1, "mtm_target": 1}  # any move of the MTM exits
    p.repository.update_strategy(
        ADMIN, market.strategy_id, StrategyUpdate.model_validate({"version": current.version, "risk": risk})
    )
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2)})
    market.trigger(NOW)
    assert len(market.held("t1-zerodha")) == 4
    tick = NOW + timedelta(hours=2)  # 11:30 IST, long before the intraday square-off
    p.levels["NIFTY"] = Decimal("26300")
    p.clock.set(tick)
    trade_date = to_ist(tick).date()

    owner_only = PositionStopLossMonitor(p.store, p.repository, p.market, CALENDAR, p.queue).check_all(
        tick, trade_date
    )
    market.run_queued()

    assert [label.split("/")[0] for label in owner_only.exits_requested] == [ADMIN]
    assert len(market.held("t1-zerodha")) == 4  # the owner's lookup knows nothing of subscribers

    lookup = SubscriberStrategyLookup(p.repository, market.repository)
    report = PositionStopLossMonitor(p.store, lookup, p.market, CALENDAR, p.queue).check_all(tick, trade_date)
    market.run_queued()

    assert [label.split("/")[0] for label in report.exits_requested] == ["trader-1"]
    assert market.held("t1-zerodha") == {}


def test_a_subscribers_leg_re_enters_on_its_own_accounts_as_the_owners_does(market):
    p = market.platform
    current = p.repository.get_strategy(ADMIN, market.strategy_id)
    legs = [leg.model_dump(mode="json") for leg in current.legs]
    legs[0] |= {
        "stop_loss": {"kind": "PERCENT", "value": 30},
        "re_entry": {"mode": "RE_ENTER", "when": "IMMEDIATELY", "max_per_day": 1, "until": "14:00"},
    }
    p.repository.update_strategy(
        ADMIN, market.strategy_id, StrategyUpdate.model_validate({"version": current.version, "legs": legs})
    )
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2)})
    lookup = SubscriberStrategyLookup(p.repository, market.repository)
    service = ExecutionService(
        p.store, p.repository, lambda _u: p.brokers, p.market, CALENDAR, p.clock, leases=p.leases,
        subscribed=lookup,
    )  # fmt: skip
    market.executor = StrategyRunExecutor(
        service, p.queue, p.clock, kill_switch=p.kill_switch, entry_max_lag=timedelta(minutes=2),
        subscribers=SubscriberRuns(market.repository, p.repository, market.service_for, p.queue, page_size=1),
    )  # fmt: skip
    monitor = PositionStopLossMonitor(p.store, lookup, p.market, CALENDAR, p.queue)
    market.trigger(NOW)
    tick = NOW + timedelta(hours=2)
    trade_date = to_ist(tick).date()
    p.levels["NIFTY"] = Decimal("26250")  # the short call's 30% stop
    p.clock.set(tick)

    monitor.check_all(tick, trade_date)
    market.run_queued()
    armed = {(a.user_id, a.owner_id, a.run_name) for a in p.store.armed_entries(trade_date)}
    p.clock.set(tick + timedelta(minutes=1))
    monitor.check_all(tick + timedelta(minutes=1), trade_date)
    market.run_queued()

    assert armed == {(ADMIN, None, "LEG1.L1"), ("trader-1", ADMIN, "LEG1.L1")}
    for user, lots in ((ADMIN, 1), ("trader-1", 2)):
        leg_one = sorted((x.cycle, x.net_quantity) for x in p.store.positions(user) if x.leg_no == 1)
        assert leg_one == [("", 0), ("L1", -65 * lots)], user  # each on its own accounts and lots
    assert len(market.held("t1-zerodha")) == 4 and p.store.armed_entries(trade_date) == []


def test_a_subscribers_waiting_leg_enters_on_its_own_accounts_when_it_moves(market):
    p = market.platform
    current = p.repository.get_strategy(ADMIN, market.strategy_id)
    legs = [leg.model_dump(mode="json") for leg in current.legs]
    legs[0] |= {"wait_and_trade": {"direction": "UP", "kind": "PERCENT", "value": 5, "timeout_minutes": 30}}
    p.repository.update_strategy(
        ADMIN, market.strategy_id, StrategyUpdate.model_validate({"version": current.version, "legs": legs})
    )
    market.publish()
    market.subscribe("trader-1", {"t1-zerodha": ("ZERODHA", 2)})
    market.trigger(NOW)
    trade_date = to_ist(NOW).date()
    waiting = {(a.user_id, a.owner_id, a.run_name) for a in p.store.armed_entries(trade_date)}
    assert len(market.held("t1-zerodha")) == 3  # legs 2-4 at once; the short call waits
    p.levels["NIFTY"] = Decimal("26150")  # the call's premium rises well over 5%
    tick = NOW + timedelta(minutes=3)
    p.clock.set(tick)

    PositionStopLossMonitor(p.store, p.repository, p.market, CALENDAR, p.queue).check_all(tick, trade_date)
    market.run_queued()

    assert waiting == {(ADMIN, None, "WAIT1"), ("trader-1", ADMIN, "WAIT1")}
    assert len(market.held("t1-zerodha")) == 4 and len(market.held("admin-paper")) == 4
    assert p.store.armed_entries(trade_date) == []
