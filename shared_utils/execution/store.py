"""The execution-history table as one store: the ledger, runs and records, positions, portfolio
days and kill switches each have their own store (`ledger_store`, `run_store`, `position_store`,
`portfolio_store`, `kill_switch_store`) over the same table; processes that need all of them (the engine's
composition root) use this one. `ExecutionHistory` is the port the services depend on: this
store implements it on DynamoDB, `memory_store.InMemoryExecutionStore` in memory (backtests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Protocol

from shared_utils.brokers.models import OptionInstrument
from shared_utils.execution.armed import ArmedStore
from shared_utils.execution.engine import EngineStore
from shared_utils.execution.exits import MonitorStore
from shared_utils.execution.kill_switch_store import KillSwitchStore
from shared_utils.execution.ledger_store import LedgerStore
from shared_utils.execution.models import (
    ExecutionRecord,
    KillSwitchOperation,
    KillSwitchView,
    LedgerEntry,
)
from shared_utils.execution.portfolio_store import PortfolioStore
from shared_utils.execution.position_store import PositionStore
from shared_utils.execution.run_store import RunStore
from shared_utils.execution.run_transactions import RunTransactions


class ExecutionStore(RunTransactions, LedgerStore, RunStore, PositionStore, PortfolioStore, KillSwitchStore):
    """Every execution store over one client and table."""


class ExecutionHistory(EngineStore, MonitorStore, ArmedStore, Protocol):
    """What the execution service, the kill switch and the routes read and write."""

    def next_signal_number(self, user_id: str, strategy_id: str, trade_date: date) -> int: ...
    def signal_ran(self, user_id: str, strategy_id: str, trade_date: date, number: int) -> bool: ...

    def ledger_of_run(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> list[LedgerEntry]: ...
    def list_records(
        self,
        user_id: str,
        start: datetime,
        end: datetime,
        *,
        strategy_id: str | None = None,
        limit: int = 25,
        next_token: str | None = None,
    ) -> tuple[list[ExecutionRecord], str | None]: ...
    def annotate_record(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str, note: str
    ) -> None: ...
    def open_contracts(self) -> set[OptionInstrument]: ...
    def kill_switch(self, user_id: str | None) -> KillSwitchView: ...
    def set_kill_switch(self, user_id: str | None, view: KillSwitchView) -> None: ...
    def start_operation(self, user_id: str | None, operation: KillSwitchOperation) -> None: ...
    def operation(self, user_id: str | None) -> KillSwitchOperation | None: ...
    def count_operation(self, user_id: str | None, operation_id: str, **increments: int) -> None: ...
    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]: ...
