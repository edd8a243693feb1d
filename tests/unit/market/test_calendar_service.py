"""The calendar every process trades on: the shipped data plus admins' changes, re-read each
minute; a brief read failure is bridged by the last read, a lasting one is loud."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared_utils.calendar_service import CalendarService
from shared_utils.clock import FixedClock
from shared_utils.errors import CalendarUnavailableError
from shared_utils.market.underlyings import Exchange
from shared_utils.models.calendar import CalendarChange, ChangeKind

NOW = datetime(2027, 1, 4, 3, 50, tzinfo=UTC)


class Store:
    def __init__(self) -> None:
        self.changes: list[CalendarChange] = []
        self.down = False
        self.reads = 0

    def all(self) -> list[CalendarChange]:
        self.reads += 1
        if self.down:
            raise ConnectionError("DynamoDB unreachable")
        return list(self.changes)

    def add(self, change: CalendarChange) -> None:
        self.changes.append(change)

    def remove(self, exchange: str, day: date) -> CalendarChange | None:
        return None


def holiday(day: date) -> CalendarChange:
    return CalendarChange(
        exchange=Exchange.NSE, date=day, kind=ChangeKind.HOLIDAY, label="x", created_by="a", created_at=NOW
    )


def test_a_change_is_seen_from_the_next_minute_and_read_once_a_minute() -> None:
    store, clock = Store(), FixedClock(NOW)
    service = CalendarService(store, clock)
    assert service.calendar().for_exchange("NSE").is_trading_day(date(2027, 1, 12))
    store.changes.append(holiday(date(2027, 1, 12)))
    service.calendar()
    assert store.reads == 1  # same minute: the cached calendar
    clock.advance(timedelta(minutes=1))
    assert not service.calendar().for_exchange("NSE").is_trading_day(date(2027, 1, 12))
    assert store.reads == 2


def test_a_brief_read_failure_serves_the_last_read_and_a_lasting_one_is_an_error() -> None:
    store, clock = Store(), FixedClock(NOW)
    service = CalendarService(store, clock)
    store.changes.append(holiday(date(2027, 1, 12)))
    service.calendar()
    store.down = True
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        assert not service.calendar().for_exchange("NSE").is_trading_day(date(2027, 1, 12))
    clock.advance(timedelta(minutes=1))
    with pytest.raises(CalendarUnavailableError, match="cannot be read"):
        service.calendar()


def test_a_first_read_that_fails_is_an_error_at_once() -> None:
    store = Store()
    store.down = True
    with pytest.raises(CalendarUnavailableError):
        CalendarService(store, FixedClock(NOW)).calendar()
