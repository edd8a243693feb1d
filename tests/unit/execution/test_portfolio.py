"""Portfolio exits decided by the minute's check, on positions the test lays out and prices it
sets: the rules of a basket and of the user across the day's strategies, and the marker that makes
each scope's exits queued once (a redelivered check, a racing executor, a queue that failed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.execution.exits import PositionStopLossMonitor
from shared_utils.execution.memory_store import InMemoryExecutionStore
from shared_utils.execution.models import ExitReason, PositionView
from shared_utils.execution.portfolio import PortfolioMonitor, PortfolioScope, PortfolioState, judge
from shared_utils.execution.position_store import position_from_item
from shared_utils.execution.runs import StrategyRun
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.allocation import effective_allocations
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.strategy import RiskRules
from shared_utils.models.views import StrategyDetail
from shared_utils.repository.memory import InMemoryPortfolioRules, InMemoryStrategies
from tests.unit.execution.builders import NOW, strategy

DAY = date(2026, 11, 25)
CALL = OptionInstrument.from_key("NIFTY|2026-12-01|26100|CE")
PUT = OptionInstrument.from_key("NIFTY|2026-12-01|25900|PE")


def rules(**values: object) -> RiskRules:
    return RiskRules.model_validate(values)


@pytest.mark.parametrize(
    ("risk", "value", "peak", "reason", "new_peak"),
    [
        ({"mtm_stop_loss": 5000}, "-4999.99", None, None, None),
        ({"mtm_stop_loss": 5000}, "-5000", None, ExitReason.PORTFOLIO_STOP_LOSS, None),
        ({"mtm_target": 3000}, "3000", None, ExitReason.PORTFOLIO_TARGET, None),
        ({"mtm_target": 3000, "mtm_stop_loss": 100}, "2999", None, None, None),
        # Trailing: below activation no exit however far it falls; a new high is stored.
        ({"trailing_stop_loss": {"activate_at": 1000, "trail_by": 300}}, "900", None, None, "900"),
        ({"trailing_stop_loss": {"activate_at": 1000, "trail_by": 300}}, "600", "900", None, None),
        ({"trailing_stop_loss": {"activate_at": 1000, "trail_by": 300}}, "1200", "1100", None, "1200"),
        (
            {"trailing_stop_loss": {"activate_at": 1000, "trail_by": 300}},
            "900",
            "1200",
            ExitReason.PORTFOLIO_TRAILING_STOP_LOSS,
            None,
        ),
        # A stop-loss fires before the trail (and the new peak is still kept).
        (
            {"mtm_stop_loss": 100, "trailing_stop_loss": {"activate_at": 10, "trail_by": 5}},
            "-100",
            None,
            ExitReason.PORTFOLIO_STOP_LOSS,
            "-100",
        ),
    ],
)
def test_a_scopes_rules_against_its_mtm(risk, value, peak, reason, new_peak):
    verdict = judge(rules(**risk), Decimal(value), Decimal(peak) if peak else None)

    assert verdict.reason is reason
    assert verdict.new_peak == (Decimal(new_peak) if new_peak else None)


# ---------------------------------------------------------------- the minute's check, in memory


def short(
    strategy_id: str,
    *,
    sold_at: str = "100",
    bought_at: str | None = None,
    user: str = "user-a",
    instrument: OptionInstrument = CALL,
    account: str = "acct-1",
    entry: date = DAY,
) -> PositionView:
    """One lot (65) sold at `sold_at`; bought back at `bought_at` (closed) or still open."""
    data = {
        "sk": keys.position_sk(strategy_id, entry, account, 1 if instrument == CALL else 3),
        "user_id": user,
        "strategy_id": strategy_id,
        "entry_date": entry.isoformat(),
        "broker_account_id": account,
        "broker": "PAPER",
        "leg_no": 1 if instrument == CALL else 3,
        "instrument": instrument.model_dump(mode="json"),
        "product": "MIS",
        "net_quantity": 0 if bought_at else -65,
        "buy_quantity": 65 if bought_at else 0,
        "buy_value": Decimal(bought_at or "0") * 65,
        "sell_quantity": 65,
        "sell_value": Decimal(sold_at) * 65,
    }
    return position_from_item(data)


class LaidOut(InMemoryExecutionStore):
    """The execution store with positions laid out by the test (the engine's own bookkeeping is
    tested elsewhere): every other method is the in-memory store's."""

    def __init__(self, held: Sequence[PositionView]) -> None:
        super().__init__()
        self.held = list(held)
        self.position_reads = 0
        self.states_read_before: dict[PortfolioScope, PortfolioState] | None = None

    def portfolio_states(
        self, scopes: Iterable[PortfolioScope], trade_date: date
    ) -> dict[PortfolioScope, PortfolioState]:
        """As stored; or, with `states_read_before`, as read before the other executor wrote."""
        if self.states_read_before is not None:
            return dict(self.states_read_before)
        return super().portfolio_states(scopes, trade_date)

    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]:
        return [p for p in self.held if p.user_id == user_id and strategy_id in (None, p.strategy_id)]

    def day_positions(self, user_id: str, trade_date: date, held: Iterable[str] = ()) -> list[PositionView]:
        self.position_reads += 1
        return [p for p in self.positions(user_id) if p.entry_date == trade_date or p.net_quantity]

    def open_positions(self, partition: str | None = None) -> list[PositionView]:
        return [
            p
            for p in self.held
            if p.net_quantity and partition in (None, keys.open_positions_gsi1pk(p.user_id))
        ]

    def close(self, strategy_id: str, at: str) -> None:
        self.held = [
            short(p.strategy_id, sold_at="100", bought_at=at, user=p.user_id, instrument=p.instrument)
            if p.strategy_id == strategy_id and p.net_quantity
            else p
            for p in self.held
        ]


class Prices:
    """Each call at one price, each put at another (a type left out: no fresh price)."""

    def __init__(self) -> None:
        self.by_type = {"CE": Decimal("100"), "PE": Decimal("100")}

    def set(self, **by_type: str) -> None:
        self.by_type = {kind: Decimal(value) for kind, value in by_type.items()}

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        return self.by_type.get(instrument.option_type.value)


class Queue:
    def __init__(self) -> None:
        self.sent: list[StrategyRun] = []
        self.fail = 0

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        if self.fail and runs:
            self.fail -= 1
            raise ConnectionError("the queue refused the batch")
        self.sent += runs

    def take(self) -> list[str]:
        taken = [f"{r.strategy_id}/{r.reason.value if r.reason else r.kind.value}" for r in self.sent]
        self.sent = []
        return taken


class Desk:
    """user-a: basket-1 (s1, s2, s3 and s4, never entered), basket-2 (s5); user-b: s6."""

    def __init__(self, held: Sequence[PositionView], portfolio: PortfolioRules, **leg_stops: int) -> None:
        layout = {"s1": "basket-1", "s2": "basket-1", "s3": "basket-1", "s4": "basket-1", "s5": "basket-2"}
        details = [
            self._detail(strategy(strategy_id=sid, basket_id=basket, **self._legs(sid, leg_stops)))
            for sid, basket in layout.items()
        ]
        details.append(self._detail(strategy(strategy_id="s6", user_id="user-b", basket_id="basket-9")))
        self.strategies = InMemoryStrategies(details)
        self.store = LaidOut(held)
        self.prices = Prices()
        self.queue = Queue()
        self.rules = portfolio
        self.monitor = self.build()

    def build(self) -> PositionStopLossMonitor:
        """The check as a process builds it (each executor its own)."""
        config = InMemoryPortfolioRules(self.strategies, self.rules)
        return PositionStopLossMonitor(
            self.store,
            self.strategies,
            self.prices,
            TradingCalendar.default(),
            self.queue,
            portfolio=PortfolioMonitor(self.store, config, self.prices),
        )

    @staticmethod
    def _legs(sid: str, leg_stops: dict[str, int]) -> dict[str, object]:
        if sid not in leg_stops:
            return {}
        from tests.unit.execution.builders import leg

        return {"legs": [leg("SELL", "CE", stop_loss={"kind": "PERCENT", "value": leg_stops[sid]})]}

    @staticmethod
    def _detail(s: object) -> StrategyDetail:
        return StrategyDetail(strategy=s, allocations=effective_allocations([], []))  # type: ignore[arg-type]

    def check(self, minute: int = 0, user: str = "user-a") -> list[str]:
        tick = NOW + timedelta(minutes=minute)
        self.monitor.check_partition(keys.open_positions_gsi1pk(user), tick, DAY)
        return self.queue.take()


BASKET_SL = PortfolioRules(baskets={("user-a", "basket-1"): rules(mtm_stop_loss=5000)})
OPEN_BASKET = [short("s1"), short("s1", instrument=PUT), short("s2"), short("s3"), short("s5")]


def test_a_basket_stop_loss_exits_every_strategy_of_the_basket_once_and_wins_over_a_leg_stop():
    desk = Desk(OPEN_BASKET, BASKET_SL, s1=30)
    assert desk.check() == []  # flat MTM

    desk.prices.set(CE="130", PE="100")  # s1's call is 30 % up: its leg stop; basket -5850
    fired = desk.check(1)

    # s4 has nothing open yet: its exit keeps it from entering later; s5 is in another basket
    # and its own rules (none) decide it; s1's leg stop gives way to the basket's exit.
    assert fired == [f"s{n}/PORTFOLIO_STOP_LOSS" for n in (1, 2, 3, 4)]
    basket = PortfolioScope(user_id="user-a", basket_id="basket-1")
    state = desk.store.portfolio_states([basket], DAY)[basket]
    assert state.exit is not None and state.exit.mtm == Decimal("-5850")
    assert state.exit.at == NOW + timedelta(minutes=1) and state.exit.queued_at == state.exit.at

    assert desk.check(1) == []  # the same CHECK delivered again
    assert desk.check(2) == [f"s{n}/PORTFOLIO_STOP_LOSS" for n in (1, 2, 3)]  # still open: again
    for sid in ("s1", "s2", "s3"):
        desk.store.close(sid, "130")
    assert desk.check(3) == []  # flat: nothing more, and no other rule for them


def test_a_second_executor_checking_the_same_minute_queues_nothing():
    desk = Desk(OPEN_BASKET, BASKET_SL)
    desk.prices.set(CE="190", PE="100")
    first, second = desk.build(), desk.build()
    tick = NOW + timedelta(minutes=1)
    partition = keys.open_positions_gsi1pk("user-a")
    desk.store.states_read_before = {}  # both read the scope's day before either writes

    first.check_partition(partition, tick, DAY)
    report = second.check_partition(partition, tick, DAY)

    assert desk.queue.take() == [f"s{n}/PORTFOLIO_STOP_LOSS" for n in (1, 2, 3, 4)]  # the writer's only
    assert report.exits_requested == []  # the loser decided its strategies and queued nothing


def test_exits_the_queue_refused_after_the_marker_are_queued_by_the_next_minute():
    desk = Desk(OPEN_BASKET, BASKET_SL)
    desk.prices.set(CE="190", PE="100")
    desk.queue.fail = 1

    with pytest.raises(ConnectionError):
        desk.check(1)
    basket = PortfolioScope(user_id="user-a", basket_id="basket-1")
    marker = desk.store.portfolio_states([basket], DAY)[basket].exit
    assert marker is not None and marker.queued_at is None

    assert desk.check(1) == []  # the CHECK delivered again in its minute: the writer's to queue
    assert desk.check(2) == [f"s{n}/PORTFOLIO_STOP_LOSS" for n in (1, 2, 3, 4)]  # every one again
    marker = desk.store.portfolio_states([basket], DAY)[basket].exit
    assert marker is not None and marker.queued_at == NOW + timedelta(minutes=2)
    for sid in ("s1", "s2", "s3"):
        desk.store.close(sid, "190")
    assert desk.check(3) == []


def test_the_basket_mtm_counts_what_its_strategies_closed_today():
    closed_loss = short("s2", sold_at="100", bought_at="160")  # -3900 realised today
    yesterday = short("s3", sold_at="100", bought_at="500", entry=DAY - timedelta(days=1))  # not today's
    desk = Desk([short("s1"), closed_loss, yesterday, short("s5")], BASKET_SL)
    desk.prices.set(CE="115", PE="100")  # s1 -975: -4875 with s2's loss
    assert desk.check(1) == []

    desk.prices.set(CE="117", PE="100")  # s1 -1105: -5005
    assert desk.check(2) == [f"s{n}/PORTFOLIO_STOP_LOSS" for n in (1, 2, 3, 4)]


def test_a_user_target_beats_the_basket_and_covers_every_basket():
    portfolio = PortfolioRules(
        users={"user-a": rules(mtm_target=3000)},
        baskets={("user-a", "basket-1"): rules(mtm_target=1_000_000)},
    )
    desk = Desk(OPEN_BASKET, portfolio)
    desk.prices.set(CE="90", PE="90")  # 5 short lots 10 down: +3250

    assert desk.check(1) == [f"s{n}/PORTFOLIO_TARGET" for n in (1, 2, 3, 4, 5)]
    assert desk.check(1, user="user-b") == []  # another user's rules are their own


def test_a_trailing_portfolio_stop_keeps_the_peak_and_fires_on_the_fall():
    portfolio = PortfolioRules(
        users={"user-a": rules(trailing_stop_loss={"activate_at": 2000, "trail_by": 1000})}
    )
    desk = Desk(OPEN_BASKET, portfolio)
    scope = PortfolioScope(user_id="user-a")
    for minute, price in enumerate(("95", "90", "93")):  # +1625, +3250 (the peak), +2275
        desk.prices.set(CE=price, PE=price)
        assert desk.check(minute) == []
    assert desk.store.portfolio_states([scope], DAY)[scope].peak == Decimal("3250")

    desk.prices.set(CE="94", PE="94")  # +1950: 1300 below the peak
    assert desk.check(4) == [f"s{n}/PORTFOLIO_TRAILING_STOP_LOSS" for n in (1, 2, 3, 4, 5)]


def test_no_decision_on_a_stale_price_and_no_read_for_users_without_rules():
    desk = Desk(OPEN_BASKET, BASKET_SL)
    desk.prices.set(CE="190")  # the put has no fresh price: basket-1 is not judged
    assert desk.check(1) == []
    reads = desk.store.position_reads

    desk.check(2, user="user-b")  # no rule: the user's positions are not read
    assert desk.store.position_reads == reads


def test_a_monitor_without_portfolio_rules_is_the_strategies_check_alone():
    desk = Desk(OPEN_BASKET, BASKET_SL, s1=30)
    desk.prices.set(CE="190", PE="100")
    plain = PositionStopLossMonitor(
        desk.store, desk.strategies, desk.prices, TradingCalendar.default(), desk.queue
    )

    plain.check_partition(keys.open_positions_gsi1pk("user-a"), NOW, DAY)

    assert desk.queue.take() == ["s1/LEG_STOP_LOSS"]
