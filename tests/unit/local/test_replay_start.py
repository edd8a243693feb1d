"""`run --date D --at HH:MM`: the replay starts at that time of the session, never outside it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local_platform.cli import EXIT_USAGE, _clock, main
from local_platform.clocks import AcceleratedClock
from shared_utils.market.calendar import TradingCalendar

DAY = "2026-11-23"  # a Monday with a regular session (09:00-15:40 IST, pre-open included)


def test_the_replay_starts_at_the_time_asked() -> None:
    clock = _clock(DAY, 60.0, TradingCalendar.default(), "09:10")
    assert isinstance(clock, AcceleratedClock)
    assert clock.now() >= datetime(2026, 11, 23, 3, 40, tzinfo=UTC)  # 09:10 IST, then running at 60x
    assert clock.now() < datetime(2026, 11, 23, 3, 45, tzinfo=UTC)


def test_a_start_outside_the_session_or_without_a_date_is_refused(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--date", DAY, "--at", "16:00"]) == EXIT_USAGE
    assert "outside the session of 2026-11-23" in capfd.readouterr().err
    assert main(["run", "--at", "09:30"]) == EXIT_USAGE
    assert main(["run", "--date", DAY, "--at", "9h30"]) == EXIT_USAGE
