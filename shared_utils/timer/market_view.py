"""What the timer needs to know about the market, as a small port.

`MarketView` answers: is this IST date a trading day, when does the timer's session start and
end (effective-dated close), and which phase is an instant in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol


class MarketView(Protocol):
    def is_trading_day(self, day: date) -> bool: ...

    def session_bounds(self, day: date) -> tuple[datetime, datetime]:
        """(first tick, close) of a trading day as aware datetimes: the loop emits every
        0-second boundary in [first tick, close]."""
        ...

    def phase_at(self, instant: datetime) -> str:
        """The MarketPhase value in force at `instant`."""
        ...

    def confirmed_days_left(self, day: date) -> int | None:
        """Days from `day` to the end of the official holiday data (negative once past it; None
        when there is none): operators alarm on it before the calendar turns provisional."""
        ...
