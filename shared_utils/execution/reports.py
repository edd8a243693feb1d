"""What the execution side reports to the timer each minute, and the ports it implements for it.

The timer's stop-loss and duplicate-order checks call these ports; `exits`, `duplicates` and
`reconcile` implement them. The contracts live here, beside their implementations, so the timer
depends on execution and never the other way round.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# A handler's result (kept in its once-per-tick idempotency record, a DynamoDB item of at most
# 400 KB) lists at most this many items; the counts beside the lists are exact.
REPORT_SAMPLE = 100


class StopLossReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    positions_checked: int = 0
    positions_unpriced: int = Field(default=0, description="open positions without a fresh price: not judged")
    partitions_queued: int = Field(default=0, description="open-positions partitions handed to the executors")
    exits_count: int = 0
    exits_requested: list[str] = Field(default=[], description=f"the first {REPORT_SAMPLE} runs queued")


class DuplicateFinding(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    order_ids: list[str]


class ContractDifference(BaseModel):
    model_config = ConfigDict(frozen=True)

    instrument: str
    broker_quantity: int = Field(description="net units the broker reports (> 0 long, < 0 short)")
    platform_quantity: int = Field(description="net units in the platform's ledger")


class PositionMismatch(BaseModel):
    """A broker account whose positions at the broker differ from the platform's ledger."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    broker_account_id: str
    broker: str
    trade_date: date
    differences: list[ContractDifference]
    first_seen: AwareDatetime
    checked_at: AwareDatetime


class StuckOrder(BaseModel):
    """An order whose outcome is still not known (UNKNOWN, or PENDING/PLACED) past the bound."""

    model_config = ConfigDict(frozen=True)

    order_key: str
    user_id: str
    broker_account_id: str
    status: str
    since: AwareDatetime


class Reconciliation(BaseModel):
    model_config = ConfigDict(frozen=True)

    position_mismatches: list[PositionMismatch] = []
    stuck_orders: list[StuckOrder] = []
    accounts_unreachable: list[str] = []


class StopLossMonitor(Protocol):
    def check(self, tick: datetime, trade_date: date) -> StopLossReport: ...


class DuplicateOrderScanner(Protocol):
    def scan(self, trade_date: date, start: datetime, end: datetime) -> list[DuplicateFinding]:
        """Orders of the same strategy/leg/action/trade date/broker in [start, end), flagged."""
        ...


class BrokerReconciler(Protocol):
    def reconcile(self, trade_date: date, start: datetime, end: datetime) -> Reconciliation:
        """Compare the brokers' positions with the ledger; find orders whose outcome is overdue."""
        ...
