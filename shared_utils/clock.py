"""Clocks are passed into domain code so tests, benchmarks and the local platform choose the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


class Clock(Protocol):
    def now(self) -> datetime:
        """Current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to: deterministic tests and replays."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def to_ist(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return instant.astimezone(IST)


def utc_iso(instant: datetime) -> str:
    """ISO-8601 in UTC ending in `Z` (the form Step Functions timestamps require)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
