"""Execution models: planned orders, ledger entries, per-broker outcomes, history records, positions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, computed_field

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.keys import ScheduleKind
from shared_utils.market.options import Action
from shared_utils.models.common import Product

# Rupee amounts and prices: exact Decimals inside, JSON numbers outside.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class ExitReason(StrEnum):
    SCHEDULED = "SCHEDULED"
    STOP_LOSS = "STOP_LOSS"
    LEG_STOP_LOSS = "LEG_STOP_LOSS"
    TARGET = "TARGET"
    TRAILING_STOP_LOSS = "TRAILING_STOP_LOSS"
    SQUARE_OFF = "SQUARE_OFF"
    KILL_SWITCH = "KILL_SWITCH"
    MANUAL = "MANUAL"  # the trader asked (e.g. closing before deleting the strategy)
    # A basket's or the user's MTM stop-loss, target or trailing stop (across the day's strategies).
    PORTFOLIO_STOP_LOSS = "PORTFOLIO_STOP_LOSS"
    PORTFOLIO_TARGET = "PORTFOLIO_TARGET"
    PORTFOLIO_TRAILING_STOP_LOSS = "PORTFOLIO_TRAILING_STOP_LOSS"
    SIGNAL = "SIGNAL"  # a chart alert on the user's webhook (docs/signals.md)

    @property
    def ends_day(self) -> bool:
        """The strategy's target is flat for the rest of the day: no re-entry, no later entry."""
        return self in _ENDS_DAY

    @property
    def judges_cycle(self) -> bool:
        """A stop-loss, target or trailing exit of the strategy (or one leg): it closes the
        re-entry cycle it judged, and a re-entry may follow. Any other exit closes every cycle."""
        return self in _JUDGES_CYCLE


_JUDGES_CYCLE = frozenset(
    {ExitReason.STOP_LOSS, ExitReason.LEG_STOP_LOSS, ExitReason.TARGET, ExitReason.TRAILING_STOP_LOSS}
)
_ENDS_DAY = frozenset(
    {
        ExitReason.SCHEDULED,
        ExitReason.SQUARE_OFF,
        ExitReason.KILL_SWITCH,
        ExitReason.MANUAL,
        ExitReason.PORTFOLIO_STOP_LOSS,
        ExitReason.PORTFOLIO_TARGET,
        ExitReason.PORTFOLIO_TRAILING_STOP_LOSS,
    }
)


class LedgerStatus(StrEnum):
    PENDING = "PENDING"  # claimed; the broker call is (or was) in flight
    PLACED = "PLACED"  # accepted by the broker, not filled yet
    FILLED = "FILLED"
    REJECTED = "REJECTED"  # definitive refusal: never resent
    UNKNOWN = "UNKNOWN"  # timeout / 5xx after sending: reconcile by tag before anything else
    NOT_SENT = "NOT_SENT"  # the broker did not take it (down, 429, auth): safe to place again
    NOT_NEEDED = "NOT_NEEDED"  # a closing order with nothing left open when its turn came: never sent

    @property
    def is_final(self) -> bool:
        return self in (LedgerStatus.FILLED, LedgerStatus.REJECTED, LedgerStatus.NOT_NEEDED)

    @property
    def done(self) -> bool:
        """The order's part of the target is reached (filled, or nothing was left for it)."""
        return self in (LedgerStatus.FILLED, LedgerStatus.NOT_NEEDED)

    @property
    def in_flight(self) -> bool:
        """The broker holds (or may hold) the order and its fill is not in the positions yet."""
        return self in (LedgerStatus.PENDING, LedgerStatus.PLACED, LedgerStatus.UNKNOWN)


class ExecutionStatus(StrEnum):
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    NOT_ENTERED = "NOT_ENTERED"  # nothing to do or refused before any order (strike, kill switch)


class BrokerStatus(StrEnum):
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    BLOCKED = "BLOCKED"  # a risk limit stopped this broker's orders


class PlannedOrder(BaseModel):
    """One slice of one leg for one broker account."""

    model_config = ConfigDict(frozen=True)

    order_key: str
    broker_account_id: str
    broker: str
    leg_no: int = Field(ge=1)
    slice_no: int = Field(ge=1)
    instrument: OptionInstrument
    side: Action
    lots: int = Field(ge=1)
    lot_size: int = Field(ge=1)
    quantity: int = Field(ge=1)
    product: Product
    position_sk: str = Field(description="the position item this order moves")


class WatchedContract(BaseModel):
    """A contract whose premium decides an armed entry (`armed`): its entry price (a re-entry
    waiting for the premium to return) or its price at the scheduled time (wait and trade)."""

    model_config = ConfigDict(frozen=True)

    leg_no: int = Field(ge=1)
    instrument: OptionInstrument
    side: Action
    price: Money
    units: int = Field(default=1, ge=1, description="the leg's lots ratio: its weight in the premium")


class ExecutionPlan(BaseModel):
    """What one run places, in placement order per broker account; stored with the run so a
    retry places exactly the same orders."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    action: ScheduleKind
    run_name: str = Field(
        description="the action part of the order keys (`run_names`: ENTRY, EXIT, LEGSL{n}, a re-entry "
        "RE{k} or LEG{n}.{cycle}, a wait-and-trade leg WAIT{n}, follow-ups -2 ...)"
    )
    trade_date: date
    reason: ExitReason | None = None
    orders: list[PlannedOrder] = []
    unresolved_reason: str | None = None
    no_fresh_quote: bool = Field(default=False, description="unresolved for want of a fresh quote")
    provisional_calendar: bool = Field(
        default=False, description="an expiry was worked out on a year without an official holiday list"
    )
    waiting: list[WatchedContract] = Field(
        default=[], description="legs left to wait and trade: their contracts at the scheduled time"
    )

    def accounts(self) -> list[str]:
        return list(dict.fromkeys(order.broker_account_id for order in self.orders))

    def orders_of(self, broker_account_id: str) -> list[PlannedOrder]:
        return [order for order in self.orders if order.broker_account_id == broker_account_id]


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_key: str
    user_id: str
    strategy_id: str
    broker_account_id: str
    broker: str
    leg_no: int
    slice_no: int
    tag: str
    side: Action
    quantity: int
    instrument_key: str
    position_sk: str | None = Field(default=None, description="the position this order moves")
    status: LedgerStatus
    attempt: int = Field(ge=1)
    broker_order_ids: list[str] = []
    filled_quantity: int = 0
    average_price: Money | None = None
    reason: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class OrderOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_key: str
    leg_no: int
    slice_no: int
    instrument: str
    side: Action
    quantity: int
    status: LedgerStatus | None = Field(description="None: not attempted in this run")
    filled_quantity: int = 0
    average_price: Money | None = None
    broker_order_id: str | None = None
    reason: str | None = None


class BrokerOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    broker_account_id: str
    broker: str
    status: BrokerStatus
    reason: str | None = None
    orders: list[OrderOutcome] = []


class ExecutionRecord(BaseModel):
    """One entry or exit of a strategy, as the history shows it."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    action: ScheduleKind
    run_name: str
    trade_date: date
    started_at: AwareDatetime
    updated_at: AwareDatetime
    attempts: int = 1
    status: ExecutionStatus
    reason: str | None = None
    exit_reason: ExitReason | None = None
    brokers: list[BrokerOutcome] = []
    realised_pnl: Money = Decimal("0")
    provisional_calendar: bool = Field(
        default=False,
        description="the run's expiries were worked out on a year without an official holiday list: "
        "a holiday announced later may still move them",
    )


class PositionView(BaseModel):
    """Net position of one leg on one broker account (units; > 0 long, < 0 short)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    entry_date: date
    broker_account_id: str
    broker: str
    leg_no: int
    instrument: OptionInstrument
    product: Product
    net_quantity: int
    buy_quantity: int
    buy_value: Money
    sell_quantity: int
    sell_value: Money
    last_price: Money | None = None
    realised_pnl: Money
    unrealised_pnl: Money | None = None
    average_price: Money | None = None
    provisional_expiry: bool = Field(
        default=False, description="the contract's expiry is in a year without an official holiday list"
    )
    position_sk: str
    stop_at_cost: bool = Field(
        default=False, description="the leg's stop-loss was moved to its entry price (move to cost)"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cycle(self) -> str:
        """The re-entry this position belongs to: "" for the day's first entry, `R{k}` for the
        strategy's k-th re-entry, `L{j}` (or `R{k}L{j}`) for the leg's j-th re-entry."""
        return keys.position_cycle(self.position_sk)


class KillSwitchState(StrEnum):
    ARMED = "ARMED"  # trading allowed
    TRIGGERED = "TRIGGERED"  # everything squared off, no new entries


class KillSwitchView(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: str = Field(description="USER or GLOBAL")
    state: KillSwitchState
    triggered_at: AwareDatetime | None = None
    triggered_by: str | None = None
    rearmed_at: AwareDatetime | None = None


class KillSwitchOperation(BaseModel):
    """What one press of a kill switch has done so far: it answers at once and the executors
    square off user by user, strategy by strategy; `flat` once nothing is left to do."""

    model_config = ConfigDict(frozen=True)

    operation_id: str
    scope: str = Field(description="USER or GLOBAL")
    started_at: AwareDatetime
    users_total: int = Field(description="users whose trading the press stops")
    users_done: int = Field(default=0, description="users whose strategies are paused and exits queued")
    exits_queued: int = 0
    exits_done: int = 0
    orders_sent: int = Field(default=0, description="exit orders the brokers accepted or filled")
    positions_left: int | None = Field(
        default=None, description="open positions still held by the operation's users (read now)"
    )

    @property
    def exits_finished(self) -> bool:
        return self.users_done >= self.users_total and self.exits_done >= self.exits_queued

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flat(self) -> bool:
        """Every user handled, every queued exit run, and nothing open any more."""
        return self.exits_finished and self.positions_left == 0


class KillSwitchReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    switch: KillSwitchView
    global_switch: KillSwitchView | None = None
    operation: KillSwitchOperation


class PositionsReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    positions: list[PositionView]
    realised_pnl: Money
    unrealised_pnl: Money


class KillSwitchStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    switch: KillSwitchView
    global_switch: KillSwitchView
    entries_allowed: bool
    operation: KillSwitchOperation | None = Field(default=None, description="the latest press of my switch")
    global_operation: KillSwitchOperation | None = Field(
        default=None, description="the latest press of the platform-wide switch"
    )
