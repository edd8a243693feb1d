"""`run --date D --at HH:MM`: the replay starts at that time of the session, never outside it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local_platform.cli import _clock
from local_platform.clocks import AcceleratedClock
from local_platform.sessions import NoSessionError
from shared_utils.market.calendar import TradingCalendar

DAY = "2026-11-23"  # a Monday with a regular session (09:00-15:40 IST, pre-open included)


def test_the_replay_starts_at_the_time_asked() -> None:
    clock = _clock(DAY, 60.0, TradingCalendar.default(), "09:10")
    assert isinstance(clock, AcceleratedClock)
    assert clock.now() >= datetime(2026, 11, 23, 3, 40, tzinfo=UTC)  # 09:10 IST, then running at 60x
    assert clock.now() < datetime(2026, 11, 23, 3, 45, tzinfo=UTC)


def test_a_start_outside_the_session_or_without_a_date_is_refused() -> None:
    # Through `_clock`, not `main`: `run` exports the local platform's environment first, which
    # would leak into the tests that follow in this process.
    calendar = TradingCalendar.default()
    with pytest.raises(NoSessionError, match="outside the session of 2026-11-23"):
        _clock(DAY, 60.0, calendar, "16:00")
    with pytest.raises(NoSessionError, match="needs --date"):
        _clock(None, 60.0, calendar, "09:30")
    with pytest.raises(NoSessionError, match="not a time HH:MM"):
        _clock(DAY, 60.0, calendar, "9h30")
