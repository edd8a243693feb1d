"""Market phases: ONE table of boundaries, each an offset from the session's open or close.

The timer decides which events fire from the phase, so a later close (15:40 from 2026-08-03)
moves the afternoon/pre-close boundaries with it. Short sessions (Muhurat) squeeze the
open-anchored phases so that the close-anchored ones keep their length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from shared_utils.clock import to_ist
from shared_utils.market.calendar import Session, TradingCalendar


class MarketPhase(StrEnum):
    PRE_OPEN = "pre_open"
    MARKET_OPEN = "open"
    MORNING = "morning"
    LUNCH = "lunch"
    AFTERNOON = "afternoon"
    PRE_CLOSE = "pre_close"
    CLOSED = "closed"


Anchor = Literal["pre_open_start", "open", "close"]


@dataclass(frozen=True)
class PhaseStart:
    phase: MarketPhase
    anchor: Anchor
    offset: timedelta


# The phase starting at each boundary; a phase lasts until the next row's start. The market is
# CLOSED before the first row and from the close on (the close tick itself is CLOSED).
PHASE_TABLE: tuple[PhaseStart, ...] = (
    PhaseStart(MarketPhase.PRE_OPEN, "pre_open_start", timedelta(0)),  # 09:00
    PhaseStart(MarketPhase.MARKET_OPEN, "open", timedelta(0)),  # 09:15
    PhaseStart(MarketPhase.MORNING, "open", timedelta(minutes=15)),  # 09:30
    PhaseStart(MarketPhase.LUNCH, "open", timedelta(hours=2, minutes=45)),  # 12:00
    PhaseStart(MarketPhase.AFTERNOON, "open", timedelta(hours=3, minutes=45)),  # 13:00
    PhaseStart(MarketPhase.PRE_CLOSE, "close", timedelta(minutes=-30)),  # 15:00 (15:10 with a 15:40 close)
)


def phase_boundaries(session: Session) -> list[tuple[MarketPhase, datetime]]:
    """The start instant of every phase in `session`, then (CLOSED, close).

    Boundaries never pass the close and never go backwards: when a short session puts an
    open-anchored start after a later close-anchored one, the earlier start is pulled back,
    so that phase is empty and the close-anchored phases keep their length."""
    anchors = {"pre_open_start": session.pre_open_start, "open": session.open, "close": session.close}
    starts = [min(anchors[row.anchor] + row.offset, session.close) for row in PHASE_TABLE]
    for i in range(len(starts) - 2, -1, -1):
        starts[i] = min(starts[i], starts[i + 1])
    bounds = [(row.phase, start) for row, start in zip(PHASE_TABLE, starts, strict=True)]
    bounds.append((MarketPhase.CLOSED, session.close))
    return bounds


def phase_in_session(instant: datetime, session: Session) -> MarketPhase:
    return phase_within(instant, phase_boundaries(session))


def phase_within(instant: datetime, boundaries: list[tuple[MarketPhase, datetime]]) -> MarketPhase:
    """The phase at `instant` among a session's `phase_boundaries` (computed once per day by a
    caller that asks every minute)."""
    current = MarketPhase.CLOSED
    for phase, start in boundaries:
        if instant >= start:
            current = phase
        else:
            break
    return current


def phase_at(instant: datetime, calendar: TradingCalendar) -> MarketPhase:
    """The phase at an aware instant; weekends, holidays and out-of-session times are CLOSED."""
    local = to_ist(instant)
    session = calendar.session(local.date())
    if session is None:
        return MarketPhase.CLOSED
    return phase_in_session(local, session)
