"""The signal dispatcher: an authenticated signal from a user's webhook (`models.signals`) turned
into a strategy run on the same queue and executors as the timer's, or refused with the reason
the trader reads in the webhook's signal list.

Refused at once (recorded by the webhook, nothing queued): a strategy that is gone or paused, a
leg the strategy does not have, a signal outside the session of the strategy's exchange, an
intraday entry in the square-off window (it would be closed minutes later). Otherwise the signal
gets the strategy's next number of the day and is queued as run SIG{n}: the executor acts on it
under the strategy's lease (`ExecutionService.run_signal`), where a redelivery completes the
same run and an out-of-order one is refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.clock import to_ist
from shared_utils.errors import NotFoundError
from shared_utils.execution.run_names import signal_run
from shared_utils.execution.runs import RunKind, RunQueue, StrategyRun
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.underlyings import EXCHANGE_OF
from shared_utils.models.common import Product, StrategyStatus
from shared_utils.models.signals import SignalAction, SignalCommand, SignalOutcome, SignalStatus
from shared_utils.models.strategy import Strategy

logger = Logger(child=True)


class StrategyFinder(Protocol):
    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...


class SignalNumbers(Protocol):
    def next_signal_number(self, user_id: str, strategy_id: str, trade_date: date) -> int: ...


class SignalDispatcher:
    def __init__(
        self,
        strategies: StrategyFinder,
        numbers: SignalNumbers,
        calendar: TradingCalendar,
        queue: RunQueue,
        *,
        square_off_before: timedelta,
    ) -> None:
        self._strategies = strategies
        self._numbers = numbers
        self._calendar = calendar
        self._queue = queue
        self._square_off_before = square_off_before

    def dispatch(self, command: SignalCommand) -> SignalOutcome:
        try:
            strategy = self._strategies.get_strategy(command.user_id, command.strategy_id)
        except NotFoundError:
            return _refused("the strategy no longer exists")
        refusal = self._refusal(strategy, command)
        if refusal is not None:
            logger.info("Signal refused", extra={"strategy_id": command.strategy_id, "reason": refusal})
            return _refused(refusal)
        trade_date = to_ist(command.received_at).date()
        run_name = signal_run(
            self._numbers.next_signal_number(command.user_id, command.strategy_id, trade_date)
        )
        run = StrategyRun(
            kind=RunKind.SIGNAL,
            user_id=command.user_id,
            strategy_id=command.strategy_id,
            trade_date=trade_date,
            scheduled_at=command.received_at,
            run_name=run_name,
            signal=command.action,
            leg_no=command.leg_no,
        )
        self._queue.send([run])
        logger.info("Signal queued", extra={"strategy_id": command.strategy_id, "run": run_name})
        return SignalOutcome(status=SignalStatus.QUEUED, run_name=run_name)

    def _refusal(self, strategy: Strategy, command: SignalCommand) -> str | None:
        if strategy.status is not StrategyStatus.ACTIVE and command.action is SignalAction.ENTER:
            return "the strategy is paused"
        if command.action is SignalAction.EXIT_LEG and (
            command.leg_no is None or command.leg_no > len(strategy.legs)
        ):
            return f"the strategy has no leg {command.leg_no}"
        exchange = EXCHANGE_OF[strategy.underlying]
        at: datetime = command.received_at
        session = self._calendar.for_exchange(exchange.value).session(to_ist(at).date())
        if session is None or not session.open <= at < session.close:
            hours = f" {to_ist(session.open):%H:%M}-{to_ist(session.close):%H:%M} IST" if session else ""
            return f"outside {exchange.value}'s session{hours}"
        intraday = strategy.product is Product.MIS
        if (
            command.action is SignalAction.ENTER
            and intraday
            and at >= session.close - self._square_off_before
        ):
            return "too close to the close: intraday positions are being squared off"
        return None


def _refused(reason: str) -> SignalOutcome:
    return SignalOutcome(status=SignalStatus.REFUSED, reason=reason)
