"""Which session a replay may run: a trade date must have one, or the reason it has none."""

from __future__ import annotations

from datetime import date

from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class NoSessionError(ValueError):
    """The date cannot be replayed; the message says why."""


def parse_trade_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise NoSessionError(f"--date {raw!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-23") from None


def require_session(day: date, calendar: TradingCalendar) -> None:
    """Raise `NoSessionError` naming the reason when `day` has no market session."""
    try:
        session = calendar.session(day)
        holiday = calendar.is_holiday(day)
    except ConfigurationError as error:
        raise NoSessionError(f"{day.isoformat()}: {error.message}") from None
    if session is not None:
        return
    if day.weekday() >= 5:
        raise NoSessionError(f"{day.isoformat()} is a {_WEEKDAYS[day.weekday()]}: the exchanges are closed")
    if holiday:
        raise NoSessionError(f"{day.isoformat()} is an exchange trading holiday: no session to run")
    raise NoSessionError(f"{day.isoformat()} has no market session")
