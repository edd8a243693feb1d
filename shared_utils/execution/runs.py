"""Strategy runs as messages: what the timer, the stop-loss check and the kill switch decide must
run, handed to the executors through a queue (SQS when deployed, `LocalRunQueue` on this machine).

A message names a command, not its result: the executor reads the strategy, its positions and its
stored runs when it runs it, and the engine's ledger makes every order exactly-once, so a message
delivered twice, late, or alongside its duplicate places nothing twice. `RunQueue` is the only
port the deciding side needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared_utils.execution.models import ExitReason
from shared_utils.models.signals import SignalAction

# SendMessageBatch takes at most 10 entries (SQS quota).
SEND_BATCH_LIMIT = 10


class RunKind(StrEnum):
    ENTRY = "ENTRY"  # the day's scheduled entry
    SCHEDULED_EXIT = "SCHEDULED_EXIT"  # the strategy's scheduled exit (day's, or N days before expiry)
    EXIT = "EXIT"  # an exit for `reason` (stop-loss, target, square-off, kill switch), one leg or all
    RETRY = "RETRY"  # complete `run_name`, a run a retryable broker failure left incomplete
    SUBSCRIBERS = "SUBSCRIBERS"  # one page of a published basket's subscriptions: a run for each
    KILL_USER = "KILL_USER"  # the kill switch for one user: pause every strategy, exit every one
    CHECK = "CHECK"  # the minute's stop-loss check of one open-positions partition (no user)
    ARMED_ENTRY = "ARMED_ENTRY"  # `run_name`: a re-entry or wait-and-trade leg the tick found due
    SIGNAL = "SIGNAL"  # `run_name` SIG{n}: a chart alert's `signal` (enter, exit, exit one leg)


class StrategyRun(BaseModel):
    """The body of one queue message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RunKind
    user_id: str = ""  # every kind but CHECK names its user
    strategy_id: str = ""
    trade_date: date
    # The minute the run belongs to: an entry is never placed before it, and one that arrives
    # later than the settings allow is refused (recorded as not entered), never placed late.
    scheduled_at: AwareDatetime
    reason: ExitReason | None = None
    leg_no: int | None = Field(default=None, ge=1)
    run_name: str | None = None
    # A subscriber's run of a published strategy: the owner whose strategy it is, and its basket.
    owner_id: str | None = None
    basket_id: str | None = None
    # SUBSCRIBERS: which status list and where in it the next page starts (DynamoDB's key, JSON).
    action: RunKind | None = None
    status_index: int = 0
    start_key: str | None = None
    # The kill-switch operation this run belongs to (its progress is counted per run).
    operation_id: str | None = None
    # How many times a busy strategy sent this run back (bounded, see the executor).
    attempt: int = Field(default=0, ge=0)
    # CHECK: the open-positions partition (GSI1 key) to check.
    partition: str | None = None
    # EXIT for a stop-loss, target or trailing stop: the re-entry cycle judged ("" the day's first
    # entry); its exit closes only that cycle's positions. None: every cycle.
    cycle: str | None = None
    # SIGNAL: what the alert asks (`leg_no` for one leg).
    signal: SignalAction | None = None

    @model_validator(mode="after")
    def _names_its_subject(self) -> StrategyRun:
        if self.kind is RunKind.CHECK and not self.partition:
            raise ValueError("a CHECK run names its partition")
        if self.kind is not RunKind.CHECK and not self.user_id:
            raise ValueError(f"a {self.kind.value} run names its user")
        if self.kind in (RunKind.ARMED_ENTRY, RunKind.SIGNAL) and not self.run_name:
            raise ValueError(f"a {self.kind.value} run names its run")
        if self.kind is RunKind.SIGNAL and self.signal is None:
            raise ValueError("a SIGNAL run says what the signal asks")
        return self

    @property
    def group(self) -> str:
        """Runs of one strategy (one user for a kill switch) share a group: the local queue runs
        a group's messages in order; the executor's lease keeps them apart on SQS."""
        if self.kind is RunKind.CHECK:
            return f"{self.kind.value}/{self.partition}"
        return f"{self.user_id}/{self.strategy_id or self.kind.value}"

    def dedup_id(self) -> str:
        """What makes two messages the same run (logs and the local queue's duplicate detection)."""
        parts = [
            self.kind.value,
            self.user_id,
            self.strategy_id,
            self.trade_date.isoformat(),
            self.scheduled_at.isoformat(),
            self.reason.value if self.reason else "",
            str(self.leg_no or ""),
            self.run_name or "",
            self.owner_id or "",
            str(self.status_index),
            self.start_key or "",
            self.operation_id or "",
            self.partition or "",
            self.cycle if self.cycle is not None else "*",
            self.signal.value if self.signal else "",
        ]
        return "|".join(parts)


class RunQueue(Protocol):
    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        """Enqueue every run (in batches of `SEND_BATCH_LIMIT`) or raise: a run the queue did not
        take must not be reported as handed over."""
        ...
