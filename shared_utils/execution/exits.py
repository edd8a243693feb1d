"""The stop-loss monitor (the timer's `StopLossMonitor`): each minute, value every open position
at the latest price (in memory: marks are not stored) and exit what its rules say must go.

Per strategy, in this order: a pressed kill switch (the user's or the global one) closes whatever
its holder still has (an entry order that filled after the press, an exit left to a busy run);
square-off of intraday (MIS) positions before the session's close;
strategy MTM stop-loss and target (rupees, realised + unrealised across brokers); trailing
stop-loss (once MTM reached `activate_at`, exit when it falls `trail_by` from the day's peak);
then per-leg stop-losses (% or points against the leg's average entry price), which close that
leg only. Exits go through the engine, so a tick delivered twice closes nothing twice; a strategy
busy with another run is left to the next minute.
Each check first retries the day's runs a broker failure left incomplete (listed as RETRY_...).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.errors import DomainError, StrategyBusyError
from shared_utils.execution.leases import BRIEF_WAIT_S
from shared_utils.execution.marking import PriceSource, mark_positions
from shared_utils.execution.models import ExitReason, PositionView
from shared_utils.execution.service import ExecutionService
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.common import Product, StopLossKind
from shared_utils.models.strategy import LegStopLoss, Strategy
from shared_utils.timer.checks import StopLossReport

logger = Logger(child=True)

SQUARE_OFF_BEFORE_CLOSE = timedelta(minutes=10)


class StrategyLookup(Protocol):
    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        """The strategies found, by (user_id, strategy_id); missing ones are left out."""
        ...


def leg_stop_hit(stop: LegStopLoss, positions: Sequence[PositionView]) -> bool:
    """Has the leg's premium moved against it by the stop (short: up, long: down)?"""
    for position in positions:
        if position.last_price is None or position.average_price is None or position.net_quantity == 0:
            continue
        distance = (
            position.average_price * stop.value / Decimal(100)
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


class PositionStopLossMonitor:
    def __init__(
        self,
        service: ExecutionService,
        strategies: StrategyLookup,
        prices: PriceSource,
        calendar: TradingCalendar,
        *,
        square_off_before: timedelta = SQUARE_OFF_BEFORE_CLOSE,
    ) -> None:
        self._service = service
        self._store = service.store
        self._strategies = strategies
        self._prices = prices
        self._calendar = calendar
        self._square_off_before = square_off_before

    def check(self, tick: datetime, trade_date: date) -> StopLossReport:
        resumed = [
            f"{r.user_id}/{r.strategy_id}/RETRY_{r.run_name}:{r.status.value}"
            for r in self._service.resume_incomplete(trade_date)
        ]
        groups: dict[tuple[str, str], list[PositionView]] = defaultdict(list)
        for position in mark_positions(self._store.open_positions(), self._prices):
            groups[(position.user_id, position.strategy_id)].append(position)
        requested: list[str] = list(resumed)
        checked = 0
        strategies = self._strategies.get_strategies(groups) if groups else {}
        everyone, pressed = (
            self._store.pressed_kill_switches({user for user, _ in groups}) if groups else (False, set())
        )
        for (user_id, strategy_id), positions in sorted(groups.items()):
            checked += len(positions)
            strategy = strategies.get((user_id, strategy_id))
            if everyone or user_id in pressed:
                decision: tuple[ExitReason, int | None] | None = (ExitReason.KILL_SWITCH, None)
            else:
                decision = self._decide(tick, trade_date, strategy, user_id, strategy_id, positions)
            if decision is None:
                continue
            reason, leg_no = decision
            label = f"{user_id}/{strategy_id}/{reason.value}" + (f"/leg{leg_no}" if leg_no else "")
            try:
                record = self._service.exit(
                    user_id, strategy_id, trade_date, reason, leg_no=leg_no, wait_s=BRIEF_WAIT_S
                )
            except StrategyBusyError:
                logger.info("Exit left to the next check: the strategy is busy", extra={"exit": label})
                continue
            except DomainError:
                # One strategy's exit that cannot go on (its follow-up runs used up, its strategy
                # unreadable) must not stop every other strategy's check: logged, tried next minute.
                logger.exception("Exit failed", extra={"exit": label})
                requested.append(f"{label}:ERROR")
                continue
            requested.append(label)
            logger.info("Exit requested", extra={"exit": label, "status": record.status.value})
        return StopLossReport(tick=tick, positions_checked=checked, exits_requested=requested)

    def _decide(
        self,
        tick: datetime,
        trade_date: date,
        strategy: Strategy | None,
        user_id: str,
        strategy_id: str,
        positions: list[PositionView],
    ) -> tuple[ExitReason, int | None] | None:
        session = self._calendar.session(trade_date)
        intraday = any(p.product is Product.MIS for p in positions)
        if session is not None and intraday and tick >= session.close - self._square_off_before:
            return ExitReason.SQUARE_OFF, None
        if strategy is None:
            return None
        value = mtm(positions)
        risk = strategy.risk
        if risk.mtm_stop_loss is not None and value <= -risk.mtm_stop_loss:
            return ExitReason.STOP_LOSS, None
        if risk.mtm_target is not None and value >= risk.mtm_target:
            return ExitReason.TARGET, None
        if risk.trailing_stop_loss is not None:
            peak = self._store.peak_mtm(user_id, strategy_id, trade_date, value)
            trail = risk.trailing_stop_loss
            if peak >= trail.activate_at and value <= peak - trail.trail_by:
                return ExitReason.TRAILING_STOP_LOSS, None
        for leg_no, leg in enumerate(strategy.legs, start=1):
            if leg.stop_loss is None:
                continue
            if leg_stop_hit(leg.stop_loss, [p for p in positions if p.leg_no == leg_no]):
                return ExitReason.LEG_STOP_LOSS, leg_no
        return None
