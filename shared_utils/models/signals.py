"""Signals: a chart alert (TradingView, Chartink) received on a user's webhook, as the execution
path sees it. The webhook side (`shared_utils/signals/`) authenticates and parses the request and
hands a `SignalCommand` to the dispatcher (`execution.signals.SignalDispatcher`), which refuses it
with a reason or queues it as a strategy run; the webhook records the `SignalOutcome`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class SignalAction(StrEnum):
    ENTER = "ENTER"  # enter every leg (refused while the strategy holds a position)
    EXIT = "EXIT"  # close every open position of the strategy
    EXIT_LEG = "EXIT_LEG"  # close one leg (`leg_no`)


class SignalCommand(BaseModel):
    """One accepted, authenticated, not-replayed signal for one strategy."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    webhook_id: str
    action: SignalAction
    leg_no: int | None = Field(default=None, ge=1)
    received_at: AwareDatetime
    signal_key: str = Field(description="the signal's id, or its body's hash: what replays are recognised by")


class SignalStatus(StrEnum):
    QUEUED = "QUEUED"  # handed to the executors as run `run_name`
    REFUSED = "REFUSED"  # not acted on: `reason` (outside the session, strategy paused, ...)
    REPLAYED = "REPLAYED"  # the same signal within the replay window: ignored
    RATE_LIMITED = "RATE_LIMITED"  # over the endpoint's limit: ignored


class SignalOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: SignalStatus
    run_name: str | None = Field(
        default=None, description="the run it queued (SIG{n}): its record shows the orders"
    )
    reason: str | None = None
