"""The stop-loss monitor (the timer's `StopLossMonitor`): each minute, value every open position
at the latest price (in memory: marks are not stored) and exit what its rules say must go.

Per strategy, in this order: a pressed kill switch (the user's or the global one) closes whatever
its holder still has (an entry order that filled after the press, an exit left to a busy run);
square-off of intraday (MIS) positions before the session's close;
strategy MTM stop-loss and target (rupees, realised + unrealised across brokers); trailing
stop-loss (once MTM reached `activate_at`, exit when it falls `trail_by` from the day's peak);
then per-leg stop-losses (% or points against the leg's average entry price), which close that
leg only. Before all of them, the portfolio rules of the strategy's basket and user
(`portfolio.PortfolioMonitor`): a strategy under a scope whose rule is hit gets that exit only.
The check decides and queues: each exit, and each of the day's runs a broker failure
left incomplete (listed as RETRY_...), is a message for the executors, whose engine makes a tick
delivered twice, or an exit asked in two minutes, close nothing twice.

A leg stop-loss (or the MTM `at_profit`) of a strategy with `move_to_cost` also moves the
stop-loss of its other stopped legs to their entry price, stored on their positions. A stop-loss,
target or trailing exit names the re-entry cycle it judged (`judged_cycle`), so a late one never
closes a later re-entry.

The minute's tick (`check`) reads the retry list and the day's armed entries (re-entries,
wait-and-trade legs: `armed`), queueing an ARMED_ENTRY run for each one due or expired, and a
CHECK run per open-positions partition (`keys.open_positions_partitions`); the executors check the
partitions side by side (`check_partition`), each reading only its own positions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils import keys
from shared_utils.execution.armed import ArmedEntry, Readiness, readiness
from shared_utils.execution.marking import PriceSource, mark_positions
from shared_utils.execution.models import ExitReason, PositionView
from shared_utils.execution.portfolio import PortfolioMonitor
from shared_utils.execution.reports import REPORT_SAMPLE, StopLossReport
from shared_utils.execution.run_names import cycle_name, cycle_numbers
from shared_utils.execution.runs import RunKind, RunQueue, StrategyRun
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.common import Product, StopLossKind
from shared_utils.models.strategy import LegStopLoss, Strategy

logger = Logger(child=True)

SQUARE_OFF_BEFORE_CLOSE = timedelta(minutes=10)


class StrategyLookup(Protocol):
    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        """The strategies found, by (user_id, strategy_id); missing ones are left out."""
        ...


def leg_stop_hit(stop: LegStopLoss, positions: Sequence[PositionView]) -> bool:
    """Has the leg's premium moved against it by the stop (short: up, long: down)? A position
    whose stop was moved to cost is stopped at its entry price."""
    for position in positions:
        if position.last_price is None or position.average_price is None or position.net_quantity == 0:
            continue
        distance = (
            Decimal(0)
            if position.stop_at_cost
            else position.average_price * stop.value / Decimal(100)
            if stop.kind is StopLossKind.PERCENT
            else stop.value
        )
        if position.net_quantity < 0 and position.last_price >= position.average_price + distance:
            return True
        if position.net_quantity > 0 and position.last_price <= position.average_price - distance:
            return True
    return False


def mtm(positions: Sequence[PositionView]) -> Decimal:
    return sum((p.realised_pnl + (p.unrealised_pnl or Decimal("0")) for p in positions), Decimal("0"))


class MonitorStore(Protocol):
    def runs_to_retry(self, trade_date: date) -> list[tuple[str, str, str]]: ...
    def open_positions(self, partition: str | None = None) -> list[PositionView]: ...
    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]: ...
    def mtm_peaks(
        self, wanted: Iterable[tuple[str, str]], trade_date: date
    ) -> dict[tuple[str, str], Decimal]: ...
    def raise_peak(self, user_id: str, strategy_id: str, trade_date: date, mtm: Decimal) -> None: ...
    def move_stops_to_cost(self, user_id: str, position_sks: Iterable[str]) -> None: ...
    def armed_entries(self, trade_date: date) -> list[ArmedEntry]: ...


class PositionStopLossMonitor:
    def __init__(
        self,
        store: MonitorStore,
        strategies: StrategyLookup,
        prices: PriceSource,
        calendar: TradingCalendar,
        queue: RunQueue,
        *,
        square_off_before: timedelta = SQUARE_OFF_BEFORE_CLOSE,
        portfolio: PortfolioMonitor | None = None,
    ) -> None:
        """`portfolio`: the baskets' and users' portfolio rules, judged first (None: not judged)."""
        self._portfolio = portfolio
        self._queue = queue
        self._store = store
        self._strategies = strategies
        self._prices = prices
        self._calendar = calendar
        self._square_off_before = square_off_before

    def check(self, tick: datetime, trade_date: date) -> StopLossReport:
        """The minute's tick: a RETRY run per run of the day left incomplete, and a CHECK run per
        open-positions partition, which the executors check side by side (`check_partition`)."""
        retries = self._retries(tick, trade_date) + self._armed(tick, trade_date)
        checks = [
            StrategyRun(kind=RunKind.CHECK, partition=partition, trade_date=trade_date, scheduled_at=tick)
            for partition in keys.open_positions_partitions()
        ]
        self._queue.send([*retries, *checks])
        return StopLossReport(
            tick=tick,
            partitions_queued=len(checks),
            exits_count=len(retries),
            exits_requested=[_label(run) for run in retries[:REPORT_SAMPLE]],
        )

    def check_all(
        self, tick: datetime, trade_date: date, partitions: Iterable[str] | None = None
    ) -> StopLossReport:
        """What the tick and every partition's CHECK run do together, in this process (tests,
        benchmarks, backtests): the same retries and the same decisions, in one report.
        `partitions`: only these (a caller that knows which hold open positions)."""
        retries = self._retries(tick, trade_date) + self._armed(tick, trade_date)
        self._queue.send(retries)
        wanted = keys.open_positions_partitions() if partitions is None else partitions
        reports = [self.check_partition(p, tick, trade_date) for p in wanted]
        requested = [_label(run) for run in retries] + [x for r in reports for x in r.exits_requested]
        return StopLossReport(
            tick=tick,
            positions_checked=sum(r.positions_checked for r in reports),
            positions_unpriced=sum(r.positions_unpriced for r in reports),
            exits_count=len(retries) + sum(r.exits_count for r in reports),
            exits_requested=requested[:REPORT_SAMPLE],
        )

    def _retries(self, tick: datetime, trade_date: date) -> list[StrategyRun]:
        return [
            _run(RunKind.RETRY, user_id, strategy_id, tick, trade_date, run_name=run_name)
            for user_id, strategy_id, run_name in self._store.runs_to_retry(trade_date)
        ]

    def _armed(self, tick: datetime, trade_date: date) -> list[StrategyRun]:
        """An ARMED_ENTRY run for each armed entry whose condition is met, or whose cut-off or
        time-out has passed (its run stores why it was not entered). Queued again each minute
        until the executor disarms it: a run already stored is completed, never placed twice."""
        runs: list[StrategyRun] = []
        for armed in self._store.armed_entries(trade_date):
            state = readiness(armed, self._prices, tick)
            if state is Readiness.UNPRICED:
                logger.warning("Armed entry not judged: no fresh price", extra={"run": armed.run_name})
            if state in (Readiness.DUE, Readiness.EXPIRED):
                runs.append(
                    _run(
                        RunKind.ARMED_ENTRY,
                        armed.user_id,
                        armed.strategy_id,
                        tick,
                        trade_date,
                        run_name=armed.run_name,
                        owner_id=armed.owner_id,
                        basket_id=armed.basket_id,
                    )
                )
        return runs

    def check_partition(self, partition: str, tick: datetime, trade_date: date) -> StopLossReport:
        """One partition's open positions (a projection), marked to market: an EXIT run queued for
        each strategy whose stop-loss, target, trailing stop, leg stop or square-off time is hit,
        or whose user's (or everyone's) kill switch is pressed."""
        groups: dict[tuple[str, str], list[PositionView]] = defaultdict(list)
        unpriced: set[str] = set()
        for position in mark_positions(self._store.open_positions(partition), self._prices, unpriced):
            groups[(position.user_id, position.strategy_id)].append(position)
        stale: list[str] = []
        checked = 0
        strategies = self._strategies.get_strategies(groups) if groups else {}
        trailing = [
            pair for pair, strategy in strategies.items() if strategy.risk.trailing_stop_loss is not None
        ]
        peaks = self._store.mtm_peaks(trailing, trade_date) if trailing else {}
        portfolio = (
            self._portfolio.judge(groups, strategies, unpriced, tick, trade_date)
            if self._portfolio is not None and groups
            else None
        )
        everyone, pressed = (
            self._store.pressed_kill_switches({user for user, _ in groups}) if groups else (False, set())
        )
        exits: list[StrategyRun] = [] if portfolio is None else portfolio.runs
        for (user_id, strategy_id), positions in sorted(groups.items()):
            checked += len(positions)
            if portfolio is not None and (user_id, strategy_id) in portfolio.decided:
                continue  # its basket's or its user's portfolio exit decides it this minute
            strategy = strategies.get((user_id, strategy_id))
            if everyone or user_id in pressed:
                decision: tuple[ExitReason, int | None] | None = (ExitReason.KILL_SWITCH, None)
            elif any(p.position_sk in unpriced for p in positions):
                # No fresh price: no stop-loss, target or trailing decision on a stale value. The
                # square-off still goes (it needs no price); the next minute's check tries again.
                decision = self._square_off(tick, trade_date, positions)
                stale.append(f"{user_id}/{strategy_id}")
            else:
                decision = self._decide(
                    tick,
                    trade_date,
                    strategy,
                    user_id,
                    strategy_id,
                    positions,
                    peaks.get((user_id, strategy_id)),
                )
            if decision is None:
                continue
            reason, leg_no = decision
            exits.append(
                _run(
                    RunKind.EXIT,
                    user_id,
                    strategy_id,
                    tick,
                    trade_date,
                    reason=reason,
                    leg_no=leg_no,
                    cycle=judged_cycle(reason, leg_no, positions),
                )
            )
        self._queue.send(exits)
        if portfolio is not None and self._portfolio is not None:
            self._portfolio.sent(portfolio)
        if exits:
            logger.info("Exits queued", extra={"runs": len(exits), "partition": partition})
        if stale:
            logger.warning(
                "Strategies not judged: no fresh price",
                extra={
                    "partition": partition,
                    "strategies": stale[:REPORT_SAMPLE],
                    "positions": len(unpriced),
                },
            )
        return StopLossReport(
            tick=tick,
            positions_checked=checked,
            positions_unpriced=len(unpriced),
            exits_count=len(exits),
            exits_requested=[_label(run) for run in exits[:REPORT_SAMPLE]],
        )

    def _square_off(
        self, tick: datetime, trade_date: date, positions: list[PositionView]
    ) -> tuple[ExitReason, int | None] | None:
        session = self._calendar.session(trade_date)
        intraday = any(p.product is Product.MIS for p in positions)
        if session is not None and intraday and tick >= session.close - self._square_off_before:
            return ExitReason.SQUARE_OFF, None
        return None

    def _decide(
        self,
        tick: datetime,
        trade_date: date,
        strategy: Strategy | None,
        user_id: str,
        strategy_id: str,
        positions: list[PositionView],
        stored_peak: Decimal | None,
    ) -> tuple[ExitReason, int | None] | None:
        square_off = self._square_off(tick, trade_date, positions)
        if square_off is not None:
            return square_off
        if strategy is None:
            return None
        value = mtm(positions)
        risk = strategy.risk
        if risk.mtm_stop_loss is not None and value <= -risk.mtm_stop_loss:
            return ExitReason.STOP_LOSS, None
        if risk.mtm_target is not None and value >= risk.mtm_target:
            return ExitReason.TARGET, None
        if risk.trailing_stop_loss is not None:
            # The day's peak is read for every trailing strategy in batches and written only on a
            # new high, not once per strategy per minute.
            peak = value if stored_peak is None else max(stored_peak, value)
            if stored_peak is None or value > stored_peak:
                self._store.raise_peak(user_id, strategy_id, trade_date, value)
            trail = risk.trailing_stop_loss
            if peak >= trail.activate_at and value <= peak - trail.trail_by:
                return ExitReason.TRAILING_STOP_LOSS, None
        move = strategy.move_to_cost
        if move is not None and move.at_profit is not None and value >= move.at_profit:
            positions = self._to_cost(user_id, strategy, positions)
        for leg_no, leg in enumerate(strategy.legs, start=1):
            if leg.stop_loss is None:
                continue
            if leg_stop_hit(leg.stop_loss, [p for p in positions if p.leg_no == leg_no]):
                if move is not None and move.after_leg_stop:
                    self._to_cost(user_id, strategy, [p for p in positions if p.leg_no != leg_no])
                return ExitReason.LEG_STOP_LOSS, leg_no
        return None

    def _to_cost(self, user_id: str, strategy: Strategy, positions: list[PositionView]) -> list[PositionView]:
        """Move the stop-loss of the open legs that have one to their entry price (stored on the
        positions, once: later minutes read it with them); returns the positions as now judged.
        A leg without a stop-loss (a hedge) keeps none: stopping it at cost would leave the
        short legs naked."""
        stopped = {leg_no for leg_no, leg in enumerate(strategy.legs, start=1) if leg.stop_loss is not None}
        moving = [p for p in positions if p.leg_no in stopped and not p.stop_at_cost]
        if not moving:
            return positions
        self._store.move_stops_to_cost(user_id, [p.position_sk for p in moving])
        logger.info(
            "Stop-loss moved to cost",
            extra={"strategy_id": strategy.strategy_id, "legs": sorted({p.leg_no for p in moving})},
        )
        moved = {p.position_sk for p in moving}
        return [
            p.model_copy(update={"stop_at_cost": True}) if p.position_sk in moved else p for p in positions
        ]


def judged_cycle(reason: ExitReason, leg_no: int | None, positions: Sequence[PositionView]) -> str | None:
    """The re-entry cycle an exit closes: the leg's (its positions' cycle) or the strategy's (the
    re-entry every open position belongs to); None for an exit that ends the day (every cycle)."""
    if not reason.judges_cycle:
        return None
    if leg_no is not None:
        cycles = {p.cycle for p in positions if p.leg_no == leg_no and p.net_quantity}
    else:
        cycles = {cycle_name(cycle_numbers(p.cycle)[0]) for p in positions if p.net_quantity}
    return cycles.pop() if len(cycles) == 1 else None


def _run(
    kind: RunKind, user_id: str, strategy_id: str, tick: datetime, trade_date: date, **what: object
) -> StrategyRun:
    return StrategyRun.model_validate(
        {
            "kind": kind,
            "user_id": user_id,
            "strategy_id": strategy_id,
            "trade_date": trade_date,
            "scheduled_at": tick,
            **what,
        }
    )


def _label(run: StrategyRun) -> str:
    """How a report names a queued run: user/strategy/what."""
    if run.kind is RunKind.RETRY:
        what = f"RETRY_{run.run_name}"
    elif run.kind is RunKind.ARMED_ENTRY:
        what = f"ARMED_{run.run_name}"
    else:
        what = (run.reason.value if run.reason else run.kind.value) + (
            f"/leg{run.leg_no}" if run.leg_no else ""
        )
    return f"{run.user_id}/{run.strategy_id}/{what}"
