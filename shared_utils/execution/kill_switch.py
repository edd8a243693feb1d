"""The kill switch: square off every open position, pause every strategy, refuse new entries.

Pressing answers at once: the switch is set (every entry order checks it first), a progress
record is started, and one KILL_USER message per user goes to the run queue (the global switch:
one per user holding positions or with a run in progress). The executor of that message pauses
the user's strategies and queues one exit per strategy; each exit counts itself done on the
record, which the state route shows with the positions still open, until everything is flat.

Pressing is idempotent: the exit of each strategy is the day's EXIT run, whose ledger keys are
deterministic, so a second press (or a redelivered message) only completes what the first could
not. A strategy whose run is in progress (its lease is held) gets its exit once that run is done
(the executor sends the message back), and that run stops before its next entry order; the
minute's stop-loss check closes whatever a user with a pressed switch still holds. Re-arming
allows entries again; paused strategies stay paused until the trader resumes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.clock import Clock
from shared_utils.errors import ConflictError, RunsNotQueuedError
from shared_utils.execution.models import (
    ExecutionRecord,
    ExitReason,
    KillSwitchOperation,
    KillSwitchReport,
    KillSwitchState,
    KillSwitchView,
    LedgerStatus,
)
from shared_utils.execution.runs import RunKind, RunQueue, StrategyRun
from shared_utils.execution.service import ExecutionService
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import Strategy, StrategyUpdate

logger = Logger(child=True)

_PAUSE_RETRIES = 3
_PAGE = 100
GLOBAL_OPERATION = "GLOBAL."
USER_OPERATION = "USER."
SENT = {LedgerStatus.PLACED, LedgerStatus.FILLED}


class StrategyPauser(Protocol):
    def list_strategies(
        self, user_id: str, basket_id: str | None = None, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Strategy], str | None]: ...
    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...
    def update_strategy(self, user_id: str, strategy_id: str, data: StrategyUpdate) -> Strategy: ...


def _operation_owner(run: StrategyRun) -> str | None:
    """Whose record counts this run: the global operation's, or the run's user's."""
    return None if (run.operation_id or "").startswith(GLOBAL_OPERATION) else run.user_id


class KillSwitch:
    def __init__(
        self, service: ExecutionService, strategies: StrategyPauser, queue: RunQueue, clock: Clock
    ) -> None:
        self._service = service
        self._store = service.store
        self._strategies = strategies
        self._queue = queue
        self._clock = clock

    def state(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        return self._store.kill_switch(user_id), self._store.kill_switch(None)

    def progress(self, user_id: str | None) -> KillSwitchOperation | None:
        """The latest press of the user's switch (None: the global one), with what is still open."""
        operation = self._store.operation(user_id)
        if operation is None:
            return None
        positions = self._store.positions(user_id) if user_id else self._store.open_positions()
        left = sum(1 for p in positions if p.net_quantity != 0)
        return operation.model_copy(update={"positions_left": left})

    def press(self, user_id: str, pressed_by: str) -> KillSwitchReport:
        switch = self._trigger(user_id, pressed_by)
        operation = self._start(user_id, USER_OPERATION, 1)
        self._queue_square_off([self._kill_user(user_id, operation.operation_id)])
        logger.warning("Kill switch pressed", extra={"user_id": user_id, "operation": operation.operation_id})
        return KillSwitchReport(switch=switch, operation=self.progress(user_id) or operation)

    def press_global(self, pressed_by: str) -> KillSwitchReport:
        """Stops entries for everyone, then squares off and pauses, user by user, everyone holding
        positions or with a run in progress."""
        switch = self._trigger(None, pressed_by)
        today = self._service.today()
        users = sorted(
            {p.user_id for p in self._store.open_positions()}
            | {user for user, _strategy, _run in self._store.runs_to_retry(today)}
        )
        operation = self._start(None, GLOBAL_OPERATION, len(users))
        self._queue_square_off([self._kill_user(user, operation.operation_id) for user in users])
        logger.warning(
            "Global kill switch pressed", extra={"users": len(users), "operation": operation.operation_id}
        )
        return KillSwitchReport(
            switch=switch, global_switch=switch, operation=self.progress(None) or operation
        )

    def _queue_square_off(self, runs: list[StrategyRun]) -> None:
        try:
            self._queue.send(runs)
        except RunsNotQueuedError as error:
            raise RunsNotQueuedError(
                error.failed,
                str(error.message),
                message="The switch is pressed: no entry order is placed from now on. Its square-off "
                "could not be queued; the minute's check closes what a pressed switch's user holds, and "
                "pressing again queues it again.",
            ) from error

    def _start(self, user_id: str | None, prefix: str, users: int) -> KillSwitchOperation:
        operation = KillSwitchOperation(
            operation_id=f"{prefix}{uuid.uuid4().hex}",
            scope="USER" if user_id else "GLOBAL",
            started_at=self._clock.now(),
            users_total=users,
        )
        self._store.start_operation(user_id, operation)
        return operation

    def _kill_user(self, user_id: str, operation_id: str) -> StrategyRun:
        now = self._clock.now()
        return StrategyRun(
            kind=RunKind.KILL_USER,
            user_id=user_id,
            trade_date=self._service.today(),
            scheduled_at=now,
            reason=ExitReason.KILL_SWITCH,
            operation_id=operation_id,
        )

    # ------------------------------------------------------------------ the executor's side

    def square_off_user(self, run: StrategyRun) -> int:
        """Pause every strategy of the user, queue an exit for each strategy holding positions or
        with a run in progress (its exit, even an empty one, sets the day's target to flat so
        nothing of it enters later), and count the user done."""
        user_id = run.user_id
        self._pause_all(user_id)
        holding = {p.strategy_id for p in self._store.positions(user_id) if p.net_quantity != 0}
        running = {
            strategy for user, strategy, _run in self._store.runs_to_retry(run.trade_date) if user == user_id
        }
        exits = [
            StrategyRun(
                kind=RunKind.EXIT,
                user_id=user_id,
                strategy_id=strategy_id,
                trade_date=run.trade_date,
                scheduled_at=run.scheduled_at,
                reason=ExitReason.KILL_SWITCH,
                operation_id=run.operation_id,
            )
            for strategy_id in sorted(holding | running)
        ]
        if run.operation_id is not None:
            # Counted before the exits are queued: an exit done before this count lands must not
            # make the operation look finished with this user's other exits still to come.
            self._store.count_operation(
                _operation_owner(run), run.operation_id, users_done=1, exits_queued=len(exits)
            )
        self._queue.send(exits)
        return len(exits)

    def exit_done(self, run: StrategyRun, record: ExecutionRecord) -> None:
        if run.operation_id is None:
            return
        sent = sum(1 for broker in record.brokers for order in broker.orders if order.status in SENT)
        self._store.count_operation(_operation_owner(run), run.operation_id, exits_done=1, orders_sent=sent)

    def rearm(self, user_id: str | None) -> KillSwitchView:
        current = self._store.kill_switch(user_id)
        view = current.model_copy(update={"state": KillSwitchState.ARMED, "rearmed_at": self._clock.now()})
        self._store.set_kill_switch(user_id, view)
        return view

    def _trigger(self, user_id: str | None, pressed_by: str) -> KillSwitchView:
        current = self._store.kill_switch(user_id)
        if current.state is KillSwitchState.TRIGGERED:
            return current
        view = KillSwitchView(
            scope="USER" if user_id else "GLOBAL",
            state=KillSwitchState.TRIGGERED,
            triggered_at=self._clock.now(),
            triggered_by=pressed_by,
        )
        self._store.set_kill_switch(user_id, view)
        return view

    def _pause_all(self, user_id: str) -> int:
        paused = 0
        for strategy in self._all_strategies(user_id):
            if strategy.status is StrategyStatus.PAUSED:
                continue
            paused += self._pause(user_id, strategy)
        return paused

    def _all_strategies(self, user_id: str) -> Iterable[Strategy]:
        token: str | None = None
        while True:
            page, token = self._strategies.list_strategies(user_id, None, _PAGE, token)
            yield from page
            if not token:
                return

    def _pause(self, user_id: str, strategy: Strategy) -> int:
        for _attempt in range(_PAUSE_RETRIES):
            try:
                self._strategies.update_strategy(
                    user_id,
                    strategy.strategy_id,
                    StrategyUpdate(version=strategy.version, status=StrategyStatus.PAUSED),
                )
                return 1
            except ConflictError:
                strategy = self._strategies.get_strategy(user_id, strategy.strategy_id)
                if strategy.status is StrategyStatus.PAUSED:
                    return 0
        logger.error("Strategy could not be paused", extra={"strategy_id": strategy.strategy_id})
        return 0
