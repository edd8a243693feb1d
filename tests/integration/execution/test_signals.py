"""Signals on the execution path (moto, paper brokers): a webhook's ENTER and EXIT become runs
SIG{n} through the real executor; redelivered, out of order, for a paused strategy, outside the
session, in the square-off window, after the day ended, killed inside the broker call. Every
order reaches its broker once; nothing a later signal closed opens again."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.brokers.paper import PaperBroker
from shared_utils.execution.models import ExecutionStatus, ExitReason
from shared_utils.execution.signals import SignalDispatcher
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.common import StrategyStatus
from shared_utils.models.signals import SignalAction, SignalCommand, SignalStatus
from shared_utils.models.strategy import StrategyUpdate
from tests.integration.execution.conftest import condor_body, net_quantities

TRADE_DATE = date(2026, 11, 25)
AT_0930 = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


class ProcessDied(BaseException):
    pass


class Counting:
    """A paper broker counting orders by key; `die_after` takes the process down after that
    many more orders (the broker has accepted the last one)."""

    def __init__(self, inner: PaperBroker) -> None:
        self.inner = inner
        self.sent: Counter[str] = Counter()
        self.die_after: int | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def place(self, order: OrderRequest) -> OrderResult:
        self.sent[order.order_key] += 1
        result = self.inner.place(order)
        if self.die_after is not None:
            self.die_after -= 1
            if self.die_after == 0:
                self.die_after = None
                raise ProcessDied
        return result


@pytest.fixture
def world(platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    counting = Counting(platform.brokers.by_account["acct-1"])
    platform.brokers.by_account["acct-1"] = counting
    dispatcher = SignalDispatcher(
        platform.repository, platform.store, TradingCalendar.default(), platform.queue,
        square_off_before=timedelta(minutes=10),
    )  # fmt: skip
    return platform, sid, counting, dispatcher


def signal(
    sid: str, action: SignalAction, at: datetime = AT_0930, leg_no: int | None = None
) -> SignalCommand:
    return SignalCommand(
        user_id="user-a", strategy_id=sid, webhook_id="w1", action=action, leg_no=leg_no,
        received_at=at, signal_key=f"{action.value}@{at.isoformat()}",
    )  # fmt: skip


def holding(platform, sid: str) -> dict[tuple[str, int], int]:
    return {
        (p.cycle, p.leg_no): p.net_quantity for p in platform.store.positions("user-a", sid) if p.net_quantity
    }


def test_an_enter_then_an_exit_signal_trade_once_each_in_a_cycle_of_their_own(world):
    platform, sid, counting, dispatcher = world

    entered = dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    platform.drain()
    assert (entered.status, entered.run_name) == (SignalStatus.QUEUED, "SIG1")
    assert holding(platform, sid) == {("R1", 1): -65, ("R1", 2): 65, ("R1", 3): -65, ("R1", 4): 65}

    platform.clock.advance(timedelta(minutes=20))
    exited = dispatcher.dispatch(signal(sid, SignalAction.EXIT, AT_0930 + timedelta(minutes=20)))
    platform.drain()
    assert (exited.status, exited.run_name) == (SignalStatus.QUEUED, "SIG2")
    assert holding(platform, sid) == {} and net_quantities(counting.inner) == {}

    platform.clock.advance(timedelta(minutes=10))
    again = dispatcher.dispatch(signal(sid, SignalAction.ENTER, AT_0930 + timedelta(minutes=30)))
    platform.drain()
    assert again.run_name == "SIG3" and set(holding(platform, sid)) == {("R2", leg) for leg in (1, 2, 3, 4)}
    assert set(counting.sent.values()) == {1} and len(counting.sent) == 12


def test_a_redelivered_or_out_of_order_signal_places_nothing(world):
    platform, sid, counting, dispatcher = world
    dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    dispatcher.dispatch(signal(sid, SignalAction.EXIT, AT_0930 + timedelta(seconds=5)))
    enter, exit_ = platform.queue.sent
    platform.queue.sent = [exit_, enter]  # the exit is delivered first

    outcomes = platform.drain()

    assert outcomes[0].startswith("SIG2:")  # nothing open yet: nothing to close
    assert (
        outcomes[1] == "SIG1:NOT_ENTERED (a later signal of this strategy ran first: this one is out of date)"
    )
    assert holding(platform, sid) == {} and not counting.sent
    platform.queue.sent = [enter, exit_]  # both redelivered
    assert platform.drain() == outcomes[::-1]
    assert not counting.sent


def test_an_exit_delivered_again_after_a_later_entry_closes_nothing_of_it(world):
    platform, sid, counting, dispatcher = world
    dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    platform.drain()
    dispatcher.dispatch(signal(sid, SignalAction.EXIT, AT_0930 + timedelta(minutes=1)))
    (first_exit,) = platform.queue.sent
    platform.drain()
    dispatcher.dispatch(signal(sid, SignalAction.ENTER, AT_0930 + timedelta(minutes=2)))
    platform.drain()
    opened = holding(platform, sid)

    platform.queue.sent = [first_exit]
    platform.drain()

    assert opened == holding(platform, sid) and set(opened) == {("R2", leg) for leg in (1, 2, 3, 4)}
    assert set(counting.sent.values()) == {1}


def test_what_a_signal_cannot_do_is_refused_with_the_reason_and_queues_nothing(world):
    platform, sid, _counting, dispatcher = world
    before_open = AT_0930 - timedelta(hours=2)  # 07:30 IST
    in_square_off = datetime(2026, 11, 25, 10, 2, tzinfo=UTC)  # 15:32 IST: the close is 15:40

    assert dispatcher.dispatch(signal(sid, SignalAction.ENTER, before_open)).reason == (
        "outside NSE's session 09:15-15:40 IST"
    )
    assert dispatcher.dispatch(signal(sid, SignalAction.ENTER, in_square_off)).reason == (
        "too close to the close: intraday positions are being squared off"
    )
    assert (
        dispatcher.dispatch(signal(sid, SignalAction.EXIT_LEG, leg_no=7)).reason
        == "the strategy has no leg 7"
    )
    current = platform.repository.get_strategy("user-a", sid)
    platform.repository.update_strategy(
        "user-a", sid, StrategyUpdate(version=current.version, status=StrategyStatus.PAUSED)
    )
    paused = dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    assert (paused.status, paused.reason) == (SignalStatus.REFUSED, "the strategy is paused")
    assert dispatcher.dispatch(signal("gone", SignalAction.ENTER)).reason == "the strategy no longer exists"
    assert platform.queue.sent == []


def test_an_enter_while_holding_or_after_the_days_end_places_nothing(world):
    platform, sid, counting, dispatcher = world
    dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    dispatcher.dispatch(signal(sid, SignalAction.ENTER, AT_0930 + timedelta(seconds=30)))

    outcomes = platform.drain()

    assert outcomes[1] == "SIG2:NOT_ENTERED (the strategy already holds a position: exit it first)"
    platform.service.exit("user-a", sid, TRADE_DATE, ExitReason.MANUAL)  # the trader closes: the day ends
    dispatcher.dispatch(signal(sid, SignalAction.ENTER, AT_0930 + timedelta(minutes=1)))
    (late,) = platform.drain()
    assert late.startswith("SIG3:NOT_ENTERED (the day has ended for this strategy")
    assert holding(platform, sid) == {} and set(counting.sent.values()) == {1}


def test_a_signal_entry_killed_inside_the_broker_call_is_finished_once_by_the_sweep(world):
    platform, sid, counting, dispatcher = world
    counting.die_after = 2
    dispatcher.dispatch(signal(sid, SignalAction.ENTER))
    (run,) = platform.queue.sent
    platform.queue.sent = []

    with pytest.raises(ProcessDied):
        platform.executor.execute(run)
    platform.clock.advance(timedelta(seconds=90))
    (resumed,) = platform.sweep(TRADE_DATE)
    platform.executor.execute(run)  # and the message, redelivered

    assert resumed.status is ExecutionStatus.COMPLETE
    assert len(holding(platform, sid)) == 4 and set(counting.sent.values()) == {1}
    platform.clock.advance(timedelta(hours=5))
    platform.service.scheduled_exit("user-a", sid, TRADE_DATE)
    assert net_quantities(counting.inner) == {} and set(counting.sent.values()) == {1}
