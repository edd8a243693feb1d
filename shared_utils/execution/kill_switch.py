"""The kill switch: square off every open position, pause every strategy, refuse new entries.

Pressing it is idempotent: the exit of each strategy is the day's EXIT run, whose ledger keys
are deterministic, so a second press (or a retry after a broker failure) only completes what
the first could not. A strategy whose run is in progress (its lease is held) is left to that run,
which stops before its next entry order, and to the minute's stop-loss check, which closes what
any user with a pressed switch still holds. Re-arming allows entries again; paused strategies stay
paused until the trader resumes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.clock import Clock
from shared_utils.errors import ConflictError, StrategyBusyError
from shared_utils.execution.leases import BRIEF_WAIT_S
from shared_utils.execution.models import (
    ExecutionRecord,
    ExitReason,
    KillSwitchReport,
    KillSwitchState,
    KillSwitchView,
)
from shared_utils.execution.service import ExecutionService
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import Strategy, StrategyUpdate

logger = Logger(child=True)

_PAUSE_RETRIES = 3
_PAGE = 100


class StrategyPauser(Protocol):
    def list_strategies(
        self, user_id: str, basket_id: str | None = None, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Strategy], str | None]: ...
    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...
    def update_strategy(self, user_id: str, strategy_id: str, data: StrategyUpdate) -> Strategy: ...


class KillSwitch:
    def __init__(self, service: ExecutionService, strategies: StrategyPauser, clock: Clock) -> None:
        self._service = service
        self._store = service.store
        self._strategies = strategies
        self._clock = clock

    def state(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        return self._store.kill_switch(user_id), self._store.kill_switch(None)

    def press(self, user_id: str, pressed_by: str) -> KillSwitchReport:
        switch = self._trigger(user_id, pressed_by)
        paused = self._pause_all(user_id)
        exits, busy = self._square_off(user_id)
        left = sum(1 for p in self._store.positions(user_id) if p.net_quantity != 0)
        logger.warning(
            "Kill switch pressed",
            extra={"user_id": user_id, "paused": paused, "open_left": left, "busy": busy},
        )
        return KillSwitchReport(
            switch=switch, strategies_paused=paused, exits=exits, open_positions_left=left, exits_pending=busy
        )

    def press_global(self, pressed_by: str) -> KillSwitchReport:
        """Stops entries for everyone, then squares off and pauses every user with open positions."""
        switch = self._trigger(None, pressed_by)
        users = sorted({p.user_id for p in self._store.open_positions()})
        paused = 0
        exits: list[ExecutionRecord] = []
        busy: list[str] = []
        for user_id in users:
            paused += self._pause_all(user_id)
            done, pending = self._square_off(user_id)
            exits += done
            busy += pending
        left = len(self._store.open_positions())
        logger.warning("Global kill switch pressed", extra={"users": len(users), "open_left": left})
        return KillSwitchReport(
            switch=switch,
            global_switch=switch,
            strategies_paused=paused,
            exits=exits,
            open_positions_left=left,
            exits_pending=busy,
        )

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

    def _square_off(self, user_id: str) -> tuple[list[ExecutionRecord], list[str]]:
        """The exits placed, and the strategies busy with another run (their exits follow)."""
        today = self._service.today()
        holding = {p.strategy_id for p in self._store.positions(user_id) if p.net_quantity != 0}
        # A run in progress (or waiting for its retry) may fill after this: its exit, even an empty
        # one, sets the day's target to flat so nothing of it enters later.
        running = {strategy for user, strategy, _run in self._store.runs_to_retry(today) if user == user_id}
        strategies = sorted(holding | running)
        exits: list[ExecutionRecord] = []
        busy: list[str] = []
        for strategy_id in strategies:
            try:
                exits.append(
                    self._service.exit(
                        user_id, strategy_id, today, ExitReason.KILL_SWITCH, wait_s=BRIEF_WAIT_S
                    )
                )
            except StrategyBusyError:
                busy.append(strategy_id)
        return exits, busy

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
