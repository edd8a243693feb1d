"""Trading days and session times for the NSE/BSE equity-derivatives segment.

Holidays, special sessions and session times are shipped data (`data/calendar.json`) with
admin overrides applied on top, because exchanges add ad-hoc closures at a few days' notice.
A year without data is an error, never a guess: a wrong trading day moves expiries and timers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Protocol

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError

_DATA_FILE = "calendar.json"
_SATURDAY = 5


class SessionKind(StrEnum):
    REGULAR = "regular"
    SPECIAL = "special"  # a full session on a day that normally has none (Saturday budget day)
    MUHURAT = "muhurat"  # a short evening/afternoon session on a holiday


@dataclass(frozen=True)
class Session:
    """One day's session; all datetimes are timezone-aware IST."""

    day: date
    pre_open_start: datetime
    pre_open_end: datetime
    open: datetime
    close: datetime
    kind: SessionKind = SessionKind.REGULAR
    label: str = ""

    @property
    def counts_as_trading_day(self) -> bool:
        """Muhurat sessions trade but do not count for expiries or day arithmetic."""
        return self.kind is not SessionKind.MUHURAT


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=IST)


@dataclass(frozen=True)
class SessionTimes:
    """Session times (IST wall clock) in force for a range of dates; `until` None = open-ended."""

    since: date
    until: date | None
    pre_open_start: str
    pre_open_end: str
    open: str
    close: str

    def applies_to(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)

    def session(self, day: date, kind: SessionKind = SessionKind.REGULAR, label: str = "") -> Session:
        return Session(
            day=day,
            pre_open_start=_at(day, self.pre_open_start),
            pre_open_end=_at(day, self.pre_open_end),
            open=_at(day, self.open),
            close=_at(day, self.close),
            kind=kind,
            label=label,
        )


def special_session(
    day: date,
    *,
    pre_open_start: str,
    pre_open_end: str,
    open: str,
    close: str,
    full_trading_day: bool,
    label: str = "",
) -> Session:
    """Build a special session from IST wall-clock times (HH:MM)."""
    kind = SessionKind.SPECIAL if full_trading_day else SessionKind.MUHURAT
    return SessionTimes(day, day, pre_open_start, pre_open_end, open, close).session(day, kind, label)


@dataclass(frozen=True)
class YearOverrides:
    """Admin changes for one year: holidays added or removed, special sessions added."""

    added_holidays: frozenset[date] = frozenset()
    removed_holidays: frozenset[date] = frozenset()
    special_sessions: tuple[Session, ...] = ()


class HolidayOverrides(Protocol):
    """Source of admin overrides (the DynamoDB adapter implements this too)."""

    def for_year(self, year: int) -> YearOverrides: ...


@dataclass
class InMemoryHolidayOverrides:
    """Overrides held in memory: tests, the local platform, and a cache of the stored items."""

    _added: set[date] = field(default_factory=set)
    _removed: set[date] = field(default_factory=set)
    _sessions: dict[date, Session] = field(default_factory=dict)

    def add_holiday(self, day: date) -> None:
        self._removed.discard(day)
        self._added.add(day)

    def remove_holiday(self, day: date) -> None:
        self._added.discard(day)
        self._removed.add(day)

    def add_special_session(self, session: Session) -> None:
        self._sessions[session.day] = session

    def for_year(self, year: int) -> YearOverrides:
        return YearOverrides(
            added_holidays=frozenset(d for d in self._added if d.year == year),
            removed_holidays=frozenset(d for d in self._removed if d.year == year),
            special_sessions=tuple(s for d, s in sorted(self._sessions.items()) if d.year == year),
        )


class TradingCalendar:
    """Holidays, special sessions and effective-dated session times for the years it covers."""

    def __init__(
        self,
        holidays: Iterable[date],
        years: Iterable[int],
        session_times: Iterable[SessionTimes],
        special_sessions: Iterable[Session] = (),
    ) -> None:
        self._years = frozenset(years)
        self._holidays = frozenset(holidays)
        self._session_times = tuple(sorted(session_times, key=lambda t: t.since))
        self._special = {s.day: s for s in special_sessions}
        stray = sorted(d for d in self._holidays | set(self._special) if d.year not in self._years)
        if stray:
            raise ConfigurationError(f"calendar data has dates outside its covered years: {stray[:3]}")

    @classmethod
    def default(cls) -> TradingCalendar:
        """The shipped data (cached: parsed once per cold start)."""
        return _shipped_calendar()

    def with_overrides(self, overrides: HolidayOverrides) -> TradingCalendar:
        """A new calendar with the admin overrides of every covered year applied."""
        holidays = set(self._holidays)
        special = dict(self._special)
        for year in self._years:
            change = overrides.for_year(year)
            holidays |= change.added_holidays
            holidays -= change.removed_holidays
            for session in change.special_sessions:
                if session.day.year != year:
                    raise ConfigurationError(f"override session {session.day} returned for year {year}")
                special[session.day] = session
        return TradingCalendar(holidays, self._years, self._session_times, special.values())

    def covered_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    def _check_covered(self, day: date) -> None:
        if day.year not in self._years:
            years = ", ".join(str(y) for y in self.covered_years())
            raise ConfigurationError(
                f"no trading calendar for {day.isoformat()}: holiday data covers the years {years}"
            )

    def is_holiday(self, day: date) -> bool:
        self._check_covered(day)
        return day in self._holidays

    def is_trading_day(self, day: date) -> bool:
        """A day with a full session: a weekday that is not a holiday, or a special full session.

        A Muhurat session does not make a holiday a trading day (expiries skip it)."""
        self._check_covered(day)
        special = self._special.get(day)
        if special is not None and special.counts_as_trading_day:
            return True
        return day.weekday() < _SATURDAY and day not in self._holidays

    def session(self, day: date) -> Session | None:
        """The day's session (regular, special or Muhurat), or None when the market is shut."""
        self._check_covered(day)
        special = self._special.get(day)
        if special is not None:
            return special
        if day.weekday() >= _SATURDAY or day in self._holidays:
            return None
        for times in self._session_times:
            if times.applies_to(day):
                return times.session(day)
        raise ConfigurationError(f"no session times cover {day.isoformat()}")

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        candidate = day + timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        candidate = day - timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate -= timedelta(days=1)
        return candidate

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end]."""
        days: list[date] = []
        current = start
        while current <= end:
            if self.is_trading_day(current):
                days.append(current)
            current += timedelta(days=1)
        return days


def _load(raw: dict[str, Any]) -> TradingCalendar:
    holidays = [date.fromisoformat(d) for year in raw["years"].values() for d in year["holidays"]]
    times = [
        SessionTimes(
            since=date.fromisoformat(rule["from"]),
            until=date.fromisoformat(rule["to"]) if rule["to"] else None,
            pre_open_start=rule["pre_open_start"],
            pre_open_end=rule["pre_open_end"],
            open=rule["open"],
            close=rule["close"],
        )
        for rule in raw["session_rules"]
    ]
    special = [
        special_session(
            date.fromisoformat(s["date"]),
            pre_open_start=s["pre_open_start"],
            pre_open_end=s["pre_open_end"],
            open=s["open"],
            close=s["close"],
            full_trading_day=s["full_trading_day"],
            label=s["label"],
        )
        for s in raw["special_sessions"]
    ]
    return TradingCalendar(holidays, (int(y) for y in raw["years"]), times, special)


@cache
def _shipped_calendar() -> TradingCalendar:
    text = resources.files("shared_utils.market").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return _load(json.loads(text))
