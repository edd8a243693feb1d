"""Trading days and session times for the NSE/BSE equity-derivatives segment.

Holidays, special sessions and session times are shipped data (`data/calendar.json`) with
admin overrides applied on top, because exchanges add ad-hoc closures at a few days' notice.

A year whose official holiday list is not in the data (the exchanges circulate it in mid-December)
is *provisional*, never a refusal: weekends and the fixed-date national holidays are off, every
other weekday trades with the session times in force. Anything computed on a provisional day says
so, and the coverage metric tells operators how many confirmed days are left.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.underlyings import Exchange

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


def is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


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
class ProvisionalRule:
    """How a year without an official holiday list is treated: the fixed-date national holidays
    (month, day) are off, as well as weekends."""

    fixed_holidays: tuple[tuple[int, int], ...] = ((1, 26), (5, 1), (8, 15), (10, 2), (12, 25))

    def closes(self, day: date) -> bool:
        return (day.month, day.day) in self.fixed_holidays


class TradingCalendar:
    """Holidays, special sessions and effective-dated session times: official for the years whose
    list is known (`covered_years`), provisional for any other year."""

    def __init__(
        self,
        holidays: Iterable[date],
        years: Iterable[int],
        session_times: Iterable[SessionTimes],
        special_sessions: Iterable[Session] = (),
        provisional: ProvisionalRule | None = None,
        open_days: Iterable[date] = (),
        exchanges: Mapping[str, TradingCalendar] | None = None,
    ) -> None:
        """`open_days`: days an admin declared open although the provisional rule closes them;
        `exchanges`: each exchange's own calendar, when they differ (`with_exchange_changes`)."""
        self._years = frozenset(years)
        self._holidays = frozenset(holidays)
        self._session_times = tuple(sorted(session_times, key=lambda t: t.since))
        self._special = {s.day: s for s in special_sessions}
        self._provisional = provisional or ProvisionalRule()
        self._open = frozenset(open_days)
        self._exchanges: Mapping[str, TradingCalendar] = exchanges or {}
        # A calendar never changes (admin changes make a new one), so each day's answer is kept:
        # the minute's stop-loss check asks for the day's session once per strategy.
        self._sessions: dict[date, Session | None] = {}

    @classmethod
    def default(cls) -> TradingCalendar:
        """The shipped data (cached: parsed once per cold start)."""
        return _shipped_calendar()

    def with_changes(
        self,
        added_holidays: Iterable[date] = (),
        removed_holidays: Iterable[date] = (),
        special_sessions: Iterable[Session] = (),
    ) -> TradingCalendar:
        """A new calendar with admin changes applied. A holiday added in a provisional year sits
        beside the year's fixed national holidays; a removed one overrides them."""
        removed = frozenset(removed_holidays)
        holidays = (set(self._holidays) | set(added_holidays)) - removed
        special = {**self._special, **{s.day: s for s in special_sessions}}
        return TradingCalendar(
            holidays,
            self._years,
            self._session_times,
            special.values(),
            self._provisional,
            self._open | removed,
        )

    def with_exchange_changes(self, changes: Mapping[str, CalendarChanges]) -> TradingCalendar:
        """The platform's calendar when admins changed exchanges separately: each exchange gets its
        own calendar (`for_exchange`), and this one answers for the platform as a whole: a day
        has a session when any exchange has one, from the earliest pre-open to the latest close."""
        if not changes:
            return self
        per_exchange = {}
        for exchange in Exchange:
            change = changes.get(exchange.value, CalendarChanges())
            per_exchange[exchange.value] = self.with_changes(change.added, change.removed, change.sessions)
        return TradingCalendar(
            self._holidays,
            self._years,
            self._session_times,
            self._special.values(),
            self._provisional,
            self._open,
            per_exchange,
        )

    def for_exchange(self, exchange: str) -> TradingCalendar:
        """The calendar of one exchange (its expiries move with its own holidays)."""
        return self._exchanges.get(str(exchange), self)

    def covered_years(self) -> tuple[int, ...]:
        """Years with an official holiday list."""
        return tuple(sorted(self._years))

    def is_provisional(self, day: date) -> bool:
        """True when `day`'s year has no official holiday list yet."""
        return day.year not in self._years

    def confirmed_until(self) -> date | None:
        """The last day of the last officially covered year (None when no year is)."""
        return date(max(self._years), 12, 31) if self._years else None

    def _closed(self, day: date) -> bool:
        if day in self._holidays:
            return True
        if day.year in self._years or day in self._open:
            return False
        return self._provisional.closes(day)

    def is_holiday(self, day: date) -> bool:
        if self._exchanges:
            return all(calendar.is_holiday(day) for calendar in self._exchanges.values())
        return self._closed(day)

    def is_trading_day(self, day: date) -> bool:
        """A day with a full session: a weekday that is not a holiday, or a special full session.

        A Muhurat session does not make a holiday a trading day (expiries skip it)."""
        if self._exchanges:
            return any(calendar.is_trading_day(day) for calendar in self._exchanges.values())
        special = self._special.get(day)
        if special is not None and special.counts_as_trading_day:
            return True
        return day.weekday() < _SATURDAY and not self._closed(day)

    def session(self, day: date) -> Session | None:
        """The day's session (regular, special or Muhurat), or None when the market is shut."""
        if day in self._sessions:
            return self._sessions[day]
        found = self._session(day)
        self._sessions[day] = found
        return found

    def _session(self, day: date) -> Session | None:
        if self._exchanges:
            return _widest([calendar.session(day) for calendar in self._exchanges.values()])
        special = self._special.get(day)
        if special is not None:
            return special
        if day.weekday() >= _SATURDAY or self._closed(day):
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


@dataclass(frozen=True)
class CalendarChanges:
    """An exchange's admin changes: holidays added, holidays removed, special sessions."""

    added: frozenset[date] = frozenset()
    removed: frozenset[date] = frozenset()
    sessions: tuple[Session, ...] = ()


def _widest(sessions: list[Session | None]) -> Session | None:
    """One session spanning every exchange's session of the day (None when all are shut)."""
    open_ = [s for s in sessions if s is not None]
    if not open_:
        return None
    first = min(open_, key=lambda s: s.pre_open_start)
    return replace(
        first,
        pre_open_end=min(s.pre_open_end for s in open_),
        open=min(s.open for s in open_),
        close=max(s.close for s in open_),
        kind=min((s.kind for s in open_), key=lambda kind: kind is SessionKind.MUHURAT),
    )


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
    month_days = (md.split("-") for md in raw["provisional"]["fixed_holidays"])
    fixed = tuple((int(month), int(day)) for month, day in month_days)
    return TradingCalendar(holidays, (int(y) for y in raw["years"]), times, special, ProvisionalRule(fixed))


@cache
def _shipped_calendar() -> TradingCalendar:
    text = resources.files("shared_utils.market").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return _load(json.loads(text))
