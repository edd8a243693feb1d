"""Portfolio exits end to end (#22): the baskets' and the user's MTM stop-loss, target and
trailing stop across the day's strategies, judged by the minute's check on moto, run by the
executor through the same exit path as the kill switch, against paper brokers at prices the test
sets (the index level the simulated market prices every contract from)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_utils import keys
from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.execution.exits import PositionStopLossMonitor
from shared_utils.execution.models import ExecutionStatus, ExitReason, LedgerStatus
from shared_utils.execution.portfolio import PortfolioMonitor, PortfolioScope
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.options import Action
from shared_utils.models.basket import BasketCreate, BasketUpdate
from shared_utils.models.risk import RiskSettingsUpdate
from shared_utils.models.strategy import RiskRules
from tests.integration.execution.conftest import Platform, condor_body, net_quantities
from tests.unit.execution.builders import NOW

TRADE_DATE = date(2026, 11, 25)
CALENDAR = TradingCalendar.default()
USER = "user-a"


class Recording:
    """A paper broker that keeps every order it was sent, in order."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.placed: list[OrderRequest] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order)
        result: OrderResult = self.inner.place(order)
        return result


def recorded(platform: Platform, *accounts: str) -> dict[str, Recording]:
    brokers = {}
    for account in accounts:
        brokers[account] = Recording(platform.brokers.by_account[account])
        platform.brokers.by_account[account] = brokers[account]  # type: ignore[assignment]
    return brokers


def in_basket(platform: Platform, basket_id: str, body: dict[str, Any], allocations: dict[str, int]) -> str:
    """A strategy of `basket_id` (the harness files a user's strategies in one basket)."""
    previous = platform._baskets.get(USER)
    platform._baskets[USER] = basket_id
    try:
        return platform.strategy(USER, body, allocations)
    finally:
        if previous is not None:
            platform._baskets[USER] = previous


def set_basket_risk(platform: Platform, basket_id: str, **risk: Any) -> None:
    version = platform.repository.get_basket(USER, basket_id).version
    platform.repository.update_basket(
        USER, basket_id, BasketUpdate(version=version, risk=RiskRules.model_validate(risk))
    )


def monitor(platform: Platform) -> PositionStopLossMonitor:
    """The minute's check as deployed: with the portfolio rules of the repository."""
    return PositionStopLossMonitor(
        platform.store,
        platform.repository,
        platform.market,
        CALENDAR,
        platform.queue,
        portfolio=PortfolioMonitor(platform.store, platform.repository, platform.market),
    )


def at_minute(platform: Platform, minute: int, check: PositionStopLossMonitor) -> list[str]:
    """The check of the minute `minute` minutes after 09:30 (what it queued, not run yet)."""
    platform.clock.set(NOW + timedelta(minutes=minute))
    return check.check_all(platform.clock.now(), TRADE_DATE).exits_requested


def open_quantities(platform: Platform) -> dict[tuple[str, str, int], int]:
    return {
        (p.strategy_id, p.broker_account_id, p.leg_no): p.net_quantity
        for p in platform.store.positions(USER)
        if p.net_quantity
    }


def labels(reason: str, *strategies: str) -> list[str]:
    return sorted(f"{USER}/{sid}/{reason}" for sid in strategies)


@pytest.mark.parametrize(
    "leg_stop_first", [True, False], ids=["leg-stop-runs-first", "basket-exit-runs-first"]
)
def test_a_basket_stop_loss_closes_three_strategies_once_while_a_leg_stop_fires(platform, leg_stop_first):
    leg_stopped = condor_body(name="A")
    leg_stopped["legs"][0]["stop_loss"] = {"kind": "PERCENT", "value": 30}
    a = platform.strategy(USER, leg_stopped, {"acct-1": 2, "acct-2": 1})
    b = platform.strategy(USER, condor_body(name="B"), {"acct-1": 1})
    c = platform.strategy(USER, condor_body(name="C"), {"acct-2": 1})
    d = platform.strategy(USER, condor_body(name="D, enters later"), {"acct-1": 1})
    income = platform._baskets[USER]
    other = platform.repository.create_basket(USER, BasketCreate(name="Other")).basket_id
    e = in_basket(platform, other, condor_body(name="E"), {"acct-3": 1})
    set_basket_risk(platform, income, mtm_stop_loss=4000)
    for sid in (a, b, c, e):
        assert platform.service.enter(USER, sid, TRADE_DATE).status is ExecutionStatus.COMPLETE
    entered = open_quantities(platform)
    brokers = recorded(platform, "acct-1", "acct-2", "acct-3")
    check = monitor(platform)

    platform.levels["NIFTY"] = Decimal("26250")  # A's short call 30 % up; the basket at -2388.75
    assert at_minute(platform, 1, check) == [f"{USER}/{a}/LEG_STOP_LOSS/leg1"]  # queued, not run yet
    platform.levels["NIFTY"] = Decimal("26400")  # the basket at -5590 (A's leg stop still hit)
    fired = at_minute(platform, 2, check)

    # The basket's exit wins: every strategy of the basket (D has nothing open), not E.
    assert sorted(fired) == labels("PORTFOLIO_STOP_LOSS", a, b, c, d)
    if not leg_stop_first:  # the queue hands out messages in any order
        platform.queue.sent.append(platform.queue.sent.pop(0))
    outcomes = platform.drain()  # the leg stop of minute 1 and the basket's exits
    assert len(outcomes) == 5 and not any(o.startswith("FAILED") for o in outcomes), outcomes

    # Each open position closed once, by exactly its quantity; E untouched; nothing reopened.
    assert open_quantities(platform) == {k: v for k, v in entered.items() if k[0] == e}
    assert net_quantities(brokers["acct-1"]) == net_quantities(brokers["acct-2"]) == {}
    closing = Counter()
    for account in ("acct-1", "acct-2"):
        for order in brokers[account].placed:
            strategy_id, run = order.order_key.split("#")[1:3]
            leg_no = int(order.order_key.split("#")[4])
            closing[(strategy_id, account, leg_no)] += order.quantity
            leg_stopped_first = leg_stop_first and strategy_id == a and leg_no == 1
            assert run == ("LEGSL1" if leg_stopped_first else "EXIT")  # the other one: NOT_NEEDED
            assert order.side is (Action.BUY if leg_no in (1, 3) else Action.SELL)
    assert closing == {k: abs(v) for k, v in entered.items() if k[0] != e}
    placed = [o.order_key for broker in brokers.values() for o in broker.placed]
    assert len(placed) == len(set(placed)) == 16 and brokers["acct-3"].placed == []
    leg_stop = [e.status for e in platform.store.ledger_of_run(USER, TRADE_DATE, a, "LEGSL1")]
    assert leg_stop == ([LedgerStatus.FILLED] * 2 if leg_stop_first else [])  # late: nothing to close

    # The same CHECK delivered again, and the next minute: nothing more.
    assert at_minute(platform, 2, check) == []
    assert at_minute(platform, 3, check) == []
    assert platform.queue.sent == []
    # The strategy not entered yet, and one already closed, enter nothing later that day.
    for sid in (d, b):
        late = platform.service.enter(USER, sid, TRADE_DATE)
        assert late.status is ExecutionStatus.NOT_ENTERED, late
    assert [o.order_key for broker in brokers.values() for o in broker.placed] == placed
    marker = platform.store.portfolio_day(USER, TRADE_DATE)
    assert [(s.basket_id, s.exit.reason if s.exit else None) for s in marker] == [
        (income, ExitReason.PORTFOLIO_STOP_LOSS)
    ]
    assert marker[0].exit is not None and marker[0].exit.mtm == Decimal("-5590.00")


def test_a_user_target_across_baskets_exits_every_strategy_and_refuses_a_later_entry(platform):
    a = platform.strategy(USER, condor_body(name="A"), {"acct-1": 3})
    waiting = platform.strategy(USER, condor_body(name="Not entered yet"), {"acct-1": 1})
    other = platform.repository.create_basket(USER, BasketCreate(name="Other")).basket_id
    e = in_basket(platform, other, condor_body(name="E"), {"acct-2": 1})
    platform.strategy("user-b", condor_body(name="Someone else's"), {"acct-b": 1})
    platform.repository.put_risk_settings(
        USER, RiskSettingsUpdate(version=0, risk=RiskRules(mtm_target=Decimal("700")))
    )
    for sid in (a, e):
        platform.service.enter(USER, sid, TRADE_DATE)
    check = monitor(platform)

    assert at_minute(platform, 120, check) == []  # time decay: +507 across both baskets
    fired = at_minute(platform, 180, check)  # +780

    assert sorted(fired) == labels("PORTFOLIO_TARGET", a, waiting, e)
    platform.drain()
    assert open_quantities(platform) == {}
    assert net_quantities(platform.brokers.by_account["acct-1"]) == {}
    assert net_quantities(platform.brokers.by_account["acct-2"]) == {}
    refused = platform.service.enter(USER, waiting, TRADE_DATE)
    assert refused.status is ExecutionStatus.NOT_ENTERED
    assert net_quantities(platform.brokers.by_account["acct-1"]) == {}
    (state,) = platform.store.portfolio_day(USER, TRADE_DATE)
    assert state.basket_id is None and state.exit is not None
    assert state.exit.reason is ExitReason.PORTFOLIO_TARGET and state.exit.queued_at is not None


def test_a_trailing_portfolio_stop_keeps_the_days_peak_and_exits_on_the_fall(platform):
    a = platform.strategy(USER, condor_body(name="A"), {"acct-1": 3})
    b = platform.strategy(USER, condor_body(name="B"), {"acct-1": 1})
    basket = platform._baskets[USER]
    set_basket_risk(platform, basket, trailing_stop_loss={"activate_at": 300, "trail_by": 400})
    for sid in (a, b):
        platform.service.enter(USER, sid, TRADE_DATE)
    check = monitor(platform)
    scope = PortfolioScope(user_id=USER, basket_id=basket)

    assert at_minute(platform, 120, check) == []  # +507: past the activation, a new high
    assert at_minute(platform, 180, check) == []  # +780: the peak
    assert platform.store.portfolio_states([scope], TRADE_DATE)[scope].peak == Decimal("780.00")
    platform.levels["NIFTY"] = Decimal("26100")  # +442: 338 below the peak, within the trail
    assert at_minute(platform, 181, check) == []
    platform.levels["NIFTY"] = Decimal("26150")  # -26: 806 below
    fired = at_minute(platform, 182, check)

    assert sorted(fired) == labels("PORTFOLIO_TRAILING_STOP_LOSS", a, b)
    platform.drain()
    assert open_quantities(platform) == {}
    assert at_minute(platform, 183, check) == []


def test_what_a_strategy_of_the_basket_closed_today_counts_toward_its_stop_loss(platform):
    a = platform.strategy(USER, condor_body(name="A"), {"acct-1": 3})
    b = platform.strategy(USER, condor_body(name="B"), {"acct-2": 1})
    set_basket_risk(platform, platform._baskets[USER], mtm_stop_loss=2500)
    for sid in (a, b):
        platform.service.enter(USER, sid, TRADE_DATE)
    check = monitor(platform)
    platform.levels["NIFTY"] = Decimal("26300")
    platform.service.exit(USER, a, TRADE_DATE, ExitReason.STOP_LOSS)  # A's own stop: -2008.50 realised

    platform.levels["NIFTY"] = Decimal("26250")
    assert at_minute(platform, 1, check) == []  # B -477.75: -2486.25 with A's loss
    platform.levels["NIFTY"] = Decimal("26300")
    fired = at_minute(platform, 2, check)  # B -669.50: -2678

    assert sorted(fired) == labels("PORTFOLIO_STOP_LOSS", a, b)
    platform.drain()
    assert open_quantities(platform) == {}


def test_a_quiet_minute_reads_the_rules_in_one_batch_and_a_ruled_users_day_in_three_requests(platform, aws):
    a = platform.strategy(USER, condor_body(name="A"), {"acct-1": 1})
    b = platform.strategy(USER, condor_body(name="B"), {"acct-2": 1})
    for sid in (a, b):
        platform.service.enter(USER, sid, TRADE_DATE)
    check = monitor(platform)
    partition = keys.open_positions_gsi1pk(USER)
    calls: list[str] = []
    aws["dynamodb"].meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    check.check_partition(partition, NOW, TRADE_DATE)
    without_rules = Counter(calls)
    set_basket_risk(platform, platform._baskets[USER], mtm_stop_loss=100000)  # never hit here
    calls.clear()
    check.check_partition(partition, NOW, TRADE_DATE)
    with_rules = Counter(calls)

    # Open positions (Query), strategies, kill switches and the portfolio rules (BatchGetItem each);
    # with a rule, the scopes' days (BatchGetItem), the day's ledger (Query), its positions
    # (BatchGetItem). Nothing is written while no rule fires and no trailing peak rises.
    assert without_rules == {"Query": 1, "BatchGetItem": 3}
    assert with_rules == {"Query": 2, "BatchGetItem": 5}
    assert platform.queue.sent == []
