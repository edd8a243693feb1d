"""Armed entries: a re-entry after a stop-loss or target exit, or a wait-and-trade leg, stored
when it becomes possible and placed when its condition is met.

The execution service arms them (after the exit that allows a re-entry, after the scheduled
entry for a wait-and-trade leg); the minute's tick reads the day's armed entries and queues an
ARMED_ENTRY run for each that is due, or past its cut-off (that run stores the reason it was not
entered); the service places it under the strategy's lease, as a run of its own (`run_names`),
and disarms it. A tick delivered twice queues the same run twice: its stored plan and its ledger
keys make the second one place nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.clock import to_ist
from shared_utils.execution.marking import PriceSource
from shared_utils.execution.models import WatchedContract
from shared_utils.market.options import Action
from shared_utils.models.common import StopLossKind
from shared_utils.models.strategy import MoveDirection, ReEntryWhen, WaitAndTrade


class ArmedKind(StrEnum):
    RE_ENTRY = "RE_ENTRY"
    WAIT_AND_TRADE = "WAIT_AND_TRADE"


class ArmedEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    trade_date: date
    run_name: str = Field(description="the entry run it places (run_names: RE{k}, LEG{n}.{cycle}, WAIT{n})")
    kind: ArmedKind
    legs: list[int] = Field(min_length=1)
    cycle: str = Field(description="the cycle of the positions it opens ('' for the day's first entry)")
    fresh_strikes: bool = Field(default=False, description="re-execute: strikes selected afresh")
    when: ReEntryWhen | None = None
    wait: WaitAndTrade | None = None
    watched: list[WatchedContract] = []
    not_before: AwareDatetime
    not_after: AwareDatetime = Field(description="the cut-off (re-entry) or the time-out (wait and trade)")
    armed_at: AwareDatetime
    # A marketplace subscriber's copy: the strategy's owner and basket (its run goes through the
    # subscriber runner, which reads the owner's strategy with the subscriber's allocations).
    owner_id: str | None = None
    basket_id: str | None = None


class Readiness(StrEnum):
    DUE = "DUE"
    WAITING = "WAITING"
    EXPIRED = "EXPIRED"  # past its cut-off or time-out: the run stores why it was not entered
    UNPRICED = "UNPRICED"  # a watched contract has no fresh price: judged again next minute


def readiness(armed: ArmedEntry, prices: PriceSource, tick: AwareDatetime) -> Readiness:
    if tick >= armed.not_after:
        return Readiness.EXPIRED
    if tick < armed.not_before:
        return Readiness.WAITING
    if armed.kind is ArmedKind.RE_ENTRY and armed.when is not ReEntryWhen.PREMIUM_RETURNS:
        return Readiness.DUE
    latest = [prices.price(c.instrument) for c in armed.watched]
    if not armed.watched or any(price is None for price in latest):
        return Readiness.UNPRICED
    now = [price for price in latest if price is not None]
    if armed.kind is ArmedKind.RE_ENTRY:
        # Back at cost: what the exited contracts would be worth against their entry prices is
        # not a loss any more (a short leg: its premium is at or below the price it was sold at).
        gain = sum(
            (
                _sign(c.side) * (c.price - price) * c.units
                for c, price in zip(armed.watched, now, strict=True)
            ),
            Decimal(0),
        )
        return Readiness.DUE if gain >= 0 else Readiness.WAITING
    assert armed.wait is not None
    (contract,), (price,) = armed.watched, now
    moved = price - contract.price if armed.wait.direction is MoveDirection.UP else contract.price - price
    return Readiness.DUE if moved >= move_needed(armed.wait, contract.price) else Readiness.WAITING


def move_needed(wait: WaitAndTrade, reference: Decimal) -> Decimal:
    return reference * wait.value / Decimal(100) if wait.kind is StopLossKind.PERCENT else wait.value


def _sign(side: Action) -> int:
    return 1 if side is Action.SELL else -1


def expired_reason(armed: ArmedEntry) -> str:
    """What the trader reads on the run that was not entered."""
    by = f"{to_ist(armed.not_after):%H:%M}"
    if armed.kind is ArmedKind.WAIT_AND_TRADE:
        assert armed.wait is not None and armed.watched
        contract = armed.watched[0]
        unit = "%" if armed.wait.kind is StopLossKind.PERCENT else " points"
        return (
            f"wait and trade timed out at {by}: leg {contract.leg_no}'s premium did not move "
            f"{armed.wait.value}{unit} {armed.wait.direction.value} from {contract.price}"
        )
    if armed.when is ReEntryWhen.PREMIUM_RETURNS:
        return f"no re-entry: the premium did not return to its entry price by {by} (the cut-off)"
    return f"no re-entry: the cut-off {by} passed"


class ArmedStore(Protocol):
    """Where armed entries are kept (the execution history: DynamoDB or memory)."""

    def arm(self, armed: ArmedEntry) -> bool:
        """Store it unless one with its run name is already armed; True when stored now."""
        ...

    def armed_entries(self, trade_date: date) -> list[ArmedEntry]: ...
    def get_armed(
        self, user_id: str, trade_date: date, strategy_id: str, run_name: str
    ) -> ArmedEntry | None: ...
    def disarm(self, user_id: str, trade_date: date, strategy_id: str, run_name: str) -> None: ...
