"""The event emitter: one iteration of the master-timer loop.

The state machine's state is `TimerState`; Emit hands it to `emit_tick`, which handles the tick
`next_tick` (floored to its 0-second boundary), publishes that minute's events and returns the
state advanced to the next boundary. Waiting on an absolute timestamp computed from the full
timestamp means the loop never drifts, and as every returned tick is strictly later than the
one handled, no minute is emitted twice within an execution or across its successors.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from shared_utils.clock import Clock, to_ist, utc_iso
from shared_utils.errors import CalendarUnavailableError, ConfigurationError
from shared_utils.timer.boundaries import floor_minute, next_boundary_after
from shared_utils.timer.market_view import MarketView
from shared_utils.timer.plan import events_for
from shared_utils.timer.publisher import EventPublisher

logger = Logger(child=True)

# History events of one iteration (see docs/timer.md): Wait 2 + Emit task 5 + Choice 2. A
# recovered iteration in the worst case: Wait 2 + Emit with 5 failed attempts (2 + 3 x 5) +
# Recover with 3 attempts (2 + 3 x 3) + Choice 2. The emitter keeps a running estimate and asks
# for a restart before the next iteration could pass the budget, well below the hard bound.
HISTORY_EVENT_BOUND = 25_000
HISTORY_BUDGET = 20_000
ITERATION_EVENTS = 9
RECOVERED_ITERATION_EVENTS = 32
DEFAULT_MAX_ITERATIONS = 1500  # 1,500 x 9 = 13,500; a 09:00-15:40 session is 401 iterations
# A tick handled more than this late is skipped (its trigger window is stale), not emitted.
MAX_LAG = timedelta(minutes=2)
EXECUTION_NAME_PREFIX = "master-timer"
# Days of official holiday data left; the stack alarms below CALENDAR_DAYS_LEFT_ALARM.
CALENDAR_DAYS_LEFT_METRIC = "CalendarConfirmedDaysLeft"
# Published by the emitter's handler on every invocation: the events of the minute it handled,
# and the minutes it had to skip (a tick reached more than MAX_LAG late, or one whose Emit failed
# and was recovered past). A skipped minute emits no trigger, stop-loss check or refresh.
TIMER_EVENTS_EMITTED_METRIC = "TimerEventsEmitted"
TIMER_MINUTES_SKIPPED_METRIC = "TimerMinutesSkipped"
CALENDAR_DAYS_LEFT_ALARM = 30


def execution_name(trade_date: date, generation: int) -> str:
    """Execution name per trade date and generation: a second daily start collides (harmless)."""
    return f"{EXECUTION_NAME_PREFIX}-{trade_date.isoformat()}-g{generation}"


class TimerState(BaseModel):
    """The loop's state as the state machine passes it to Emit. `tick` is accepted for
    `next_tick`; `error` is set by the state machine's Catch (recovery: skip the failed tick)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    next_tick: AwareDatetime = Field(validation_alias=AliasChoices("next_tick", "tick"))
    iteration: int = Field(default=0, ge=0)
    generation: int = Field(default=0, ge=0)
    max_iterations: int = Field(default=DEFAULT_MAX_ITERATIONS, ge=1, le=2500)
    history_events: int = Field(default=0, ge=0)
    error: dict[str, Any] | None = None


class EmitResult(BaseModel):
    """Emit's output, which is also the next iteration's input."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    next_tick: AwareDatetime
    continue_: bool = Field(alias="continue")
    restart: bool
    iteration: int
    generation: int
    max_iterations: int
    history_events: int
    trade_date: date
    session_close: AwareDatetime | None = None
    handled_tick: AwareDatetime | None
    phase: str | None
    emitted: list[str]
    skipped_minutes: int = 0
    successor_name: str | None = None
    confirmed_days_left: int | None = None
    note: str

    @field_serializer("next_tick", "handled_tick", "session_close")
    def _z(self, value: datetime | None) -> str | None:
        return None if value is None else utc_iso(value)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def emit_tick(state: TimerState, market: MarketView, publisher: EventPublisher, clock: Clock) -> EmitResult:
    now = clock.now()
    tick = floor_minute(state.next_tick)
    trade_date = to_ist(tick).date()
    iteration = state.iteration + 1
    cost = RECOVERED_ITERATION_EVENTS if state.error is not None else ITERATION_EVENTS
    history_events = state.history_events + cost
    close: datetime | None = None

    def result(
        next_tick: datetime,
        keep_going: bool,
        note: str,
        handled: datetime | None = None,
        phase: str | None = None,
        emitted: list[str] | None = None,
        skipped: int = 0,
    ) -> EmitResult:
        near_bound = history_events + RECOVERED_ITERATION_EVENTS > HISTORY_BUDGET
        restart = keep_going and (iteration >= state.max_iterations or near_bound)
        generation = state.generation + 1 if restart else state.generation
        outcome = EmitResult(
            next_tick=next_tick,
            continue_=keep_going,
            restart=restart,
            iteration=0 if restart else iteration,
            generation=generation,
            max_iterations=state.max_iterations,
            history_events=0 if restart else history_events,
            trade_date=trade_date,
            session_close=close,
            handled_tick=handled,
            phase=phase,
            emitted=emitted or [],
            skipped_minutes=skipped,
            successor_name=execution_name(trade_date, generation) if restart else None,
            confirmed_days_left=market.confirmed_days_left(trade_date),
            note=note,
        )
        logger.info("Timer iteration", extra=outcome.to_state())
        return outcome

    try:
        if not market.is_trading_day(trade_date):
            return result(tick, False, "not a trading day: nothing emitted")
        first_tick, close = market.session_bounds(trade_date)
        close = close.astimezone(UTC)
    except ConfigurationError as error:
        # No calendar data for this date: refuse to guess; the execution fails and alarms.
        logger.error("No market calendar for the trade date", extra={"reason": str(error)})
        raise CalendarUnavailableError(
            f"no market calendar for {trade_date.isoformat()}: {error.message}"
        ) from error
    if tick < first_tick:
        return result(first_tick, True, "before the session: waiting for its first tick")
    if tick > close:
        return result(tick, False, "after the close: loop ends")
    if state.error is not None:
        # The previous attempt at this tick failed after its retries: skip it, keep the day going.
        upcoming = next_boundary_after(max(state.next_tick, now))
        skipped = int((upcoming - tick) / timedelta(minutes=1))
        logger.error("Timer tick failed; skipping it", extra={"tick": utc_iso(tick), "error": state.error})
        return result(upcoming, upcoming <= close, "recovered from a failed tick", skipped=skipped)
    if now - tick > MAX_LAG:
        upcoming = next_boundary_after(now)
        skipped = int((upcoming - tick) / timedelta(minutes=1))
        return result(upcoming, upcoming <= close, "tick too late: skipped", skipped=skipped)

    phase = market.phase_at(tick)
    events = events_for(tick, phase, trade_date)
    publisher.publish(events)
    upcoming = next_boundary_after(state.next_tick)
    return result(
        upcoming,
        upcoming <= close,
        "emitted",
        handled=tick,
        phase=phase,
        emitted=[event.detail_type.value for event in events],
    )
