"""The execution-history table as one store: the ledger, runs and records, positions and kill
switches each have their own store (`ledger_store`, `run_store`, `position_store`,
`kill_switch_store`) over the same table; processes that need all of them (the engine's
composition root) use this one."""

from __future__ import annotations

from shared_utils.execution.kill_switch_store import KillSwitchStore
from shared_utils.execution.ledger_store import LedgerStore
from shared_utils.execution.position_store import PositionStore
from shared_utils.execution.run_store import RunStore
from shared_utils.execution.run_transactions import RunTransactions


class ExecutionStore(RunTransactions, LedgerStore, RunStore, PositionStore, KillSwitchStore):
    """Every execution store over one client and table."""
