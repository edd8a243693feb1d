"""Which timer events fire at a tick: ONE table, by market phase (documented in docs/timer.md).

Each phase lists the detail-types that fire in it, in priority order (first = published first,
priority 1). Cadence and data window are per detail-type. A phase missing from the table (or a
weekend/holiday, which never reaches this table) fires nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared_utils.events.catalog import ENVELOPE_VERSION, DetailType
from shared_utils.timer.boundaries import minute_of_day
from shared_utils.timer.envelope import TimerEnvelope, TimerEvent

TRIGGER = DetailType.SCHEDULE_STRATEGY_TRIGGER
STOP_LOSS = DetailType.CHECK_STOP_LOSS
DUPLICATES = DetailType.CHECK_DUPLICATE_ORDERS
REFRESH = DetailType.REFRESH_MARKET_DATA


@dataclass(frozen=True)
class Cadence:
    every_minutes: int
    # The data window the handler looks at, relative to the tick: [tick + start, tick + end).
    window_start: timedelta
    window_end: timedelta


CADENCE: dict[DetailType, Cadence] = {
    # Each due entry or exit is handed over at its own minute, never earlier (the refresher looks
    # 5 minutes ahead to prepare the chains of what falls due).
    TRIGGER: Cadence(1, timedelta(0), timedelta(minutes=1)),
    STOP_LOSS: Cadence(1, timedelta(0), timedelta(minutes=1)),
    DUPLICATES: Cadence(1, timedelta(minutes=-5), timedelta(0)),  # 5-minute lookback
    REFRESH: Cadence(1, timedelta(0), timedelta(minutes=1)),
    # Not emitted by the timer: the refresh announces its minute's quotes (the feed's marks).
    DetailType.QUOTES_REFRESHED: Cadence(1, timedelta(0), timedelta(minutes=1)),
}

# phase (MarketPhase value) -> detail-types in priority order.
PHASE_EVENTS: dict[str, tuple[DetailType, ...]] = {
    # 09:00-09:15: no positions can move yet; the trigger runs (nothing is due before the open).
    "pre_open": (TRIGGER, DUPLICATES),
    # The opening minutes: fresh prices first, then entries, then protection.
    "open": (REFRESH, TRIGGER, STOP_LOSS, DUPLICATES),
    "morning": (REFRESH, STOP_LOSS, TRIGGER, DUPLICATES),
    "lunch": (REFRESH, STOP_LOSS, TRIGGER, DUPLICATES),
    "afternoon": (REFRESH, STOP_LOSS, TRIGGER, DUPLICATES),
    # Before the close exits matter most: stop-loss and the exit schedule lead.
    "pre_close": (STOP_LOSS, TRIGGER, REFRESH, DUPLICATES),
    # The close tick itself: a last duplicate sweep over the final 5 minutes, nothing else.
    "closed": (DUPLICATES,),
}


def fires_at(detail_type: DetailType, tick: datetime) -> bool:
    return minute_of_day(tick) % CADENCE[detail_type].every_minutes == 0


def events_for(tick: datetime, phase: str, trade_date: date) -> list[TimerEvent]:
    """The events of one tick, in priority order, each with its versioned envelope."""
    events: list[TimerEvent] = []
    for detail_type in PHASE_EVENTS.get(phase, ()):
        if not fires_at(detail_type, tick):
            continue
        cadence = CADENCE[detail_type]
        envelope = TimerEnvelope(
            version=ENVELOPE_VERSION,
            tick=tick,
            trade_date=trade_date,
            phase=phase,
            priority=len(events) + 1,
            window_start=tick + cadence.window_start,
            window_end=tick + cadence.window_end,
        )
        events.append(TimerEvent(detail_type=detail_type, envelope=envelope))
    return events
