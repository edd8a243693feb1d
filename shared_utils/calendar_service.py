"""The market calendar as operational data: the shipped file is the seed, admins change it per
exchange without a deploy, and every process sees a change from its next minute on.

A change is refused when it would rewrite the past, duplicate another change or make no sense
(a session that ends before it starts, a holiday on a weekend); a holiday that lands on an expiry
day is accepted, and the answer names the listed contracts whose expiry moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.clock import Clock, to_ist
from shared_utils.errors import (
    AlreadyExistsError,
    CalendarUnavailableError,
    FieldIssue,
    InvalidInputError,
    NotFoundError,
)
from shared_utils.market.calendar import (
    CalendarChanges,
    Session,
    SessionKind,
    TradingCalendar,
    is_weekend,
    special_session,
)
from shared_utils.market.expiries import listed_expiries
from shared_utils.market.specs import default_specs
from shared_utils.market.underlyings import Exchange, Underlying
from shared_utils.models.calendar import (
    CalendarChange,
    CalendarChangeResult,
    CalendarDay,
    CalendarSession,
    ChangeKind,
    ExchangeCalendar,
    HolidayCreate,
    MovedExpiry,
    SessionCreate,
)

logger = Logger(child=True)

# A calendar read this recently still serves when a read fails (a DynamoDB blip must not stop the
# day's stop-losses); past it, the calendar is unavailable and the timer fails loudly.
STALE_LIMIT = timedelta(minutes=10)


class CalendarChangeStore(Protocol):
    def all(self) -> list[CalendarChange]: ...

    def add(self, change: CalendarChange) -> None: ...

    def remove(self, exchange: str, day: date) -> CalendarChange | None: ...


def _session(change: CalendarChange) -> Session:
    assert change.session is not None
    spec = change.session
    return special_session(
        change.date,
        pre_open_start=spec.pre_open_start,
        pre_open_end=spec.pre_open_end,
        open=spec.open,
        close=spec.close,
        full_trading_day=spec.full_trading_day,
        label=spec.label,
    )


def apply_changes(shipped: TradingCalendar, changes: Sequence[CalendarChange]) -> TradingCalendar:
    """The shipped calendar with the admins' changes, each exchange's on its own calendar."""
    added: dict[str, set[date]] = defaultdict(set)
    removed: dict[str, set[date]] = defaultdict(set)
    sessions: dict[str, list[Session]] = defaultdict(list)
    for change in changes:
        exchange = change.exchange.value
        if change.kind is ChangeKind.HOLIDAY:
            added[exchange].add(change.date)
        elif change.kind is ChangeKind.OPEN:
            removed[exchange].add(change.date)
        else:
            sessions[exchange].append(_session(change))
    per_exchange = {
        exchange: CalendarChanges(
            frozenset(added[exchange]), frozenset(removed[exchange]), tuple(sessions[exchange])
        )
        for exchange in set(added) | set(removed) | set(sessions)
    }
    return shipped.with_exchange_changes(per_exchange)


class CalendarService:
    """Reads the calendar for the platform (cached for the current minute) and applies admins'
    changes to it."""

    def __init__(
        self, changes: CalendarChangeStore, clock: Clock, shipped: TradingCalendar | None = None
    ) -> None:
        self._changes = changes
        self._clock = clock
        self._shipped = shipped or TradingCalendar.default()
        self._cached: tuple[int, TradingCalendar] | None = None
        self._last_good: tuple[datetime, TradingCalendar] | None = None

    # ------------------------------------------------------------------ reading

    def calendar(self) -> TradingCalendar:
        """The calendar in force, read at most once per clock minute (a change takes effect at the
        next tick). When a read fails, the last one serves for up to `STALE_LIMIT`; after that
        `CalendarUnavailableError`: nothing trades on a guessed calendar."""
        now = self._clock.now()
        minute = int(now.timestamp() // 60)
        if self._cached is not None and self._cached[0] == minute:
            return self._cached[1]
        try:
            calendar = apply_changes(self._shipped, self._changes.all())
        except Exception as error:
            last = self._last_good
            if last is not None and now - last[0] <= STALE_LIMIT:
                logger.warning(
                    "Calendar changes unreadable: using the last read", extra={"error": str(error)}
                )
                return last[1]
            raise CalendarUnavailableError(
                f"the market calendar's changes cannot be read: {error}"
            ) from error
        self._cached = (minute, calendar)
        self._last_good = (now, calendar)
        return calendar

    def view(self, exchange: Exchange, year: int) -> ExchangeCalendar:
        changes = sorted(
            (c for c in self._changes.all() if c.exchange is exchange and c.date.year == year),
            key=lambda c: c.date,
        )
        calendar = apply_changes(self._shipped, changes).for_exchange(exchange)
        by_day = {c.date: c for c in changes}
        provisional = calendar.is_provisional(date(year, 1, 1))
        holidays: list[CalendarDay] = []
        sessions: list[CalendarSession] = []
        day = date(year, 1, 1)
        while day.year == year:
            change = by_day.get(day)
            source = "admin" if change else ("provisional" if provisional else "official")
            if not is_weekend(day) and calendar.is_holiday(day):
                holidays.append(CalendarDay(date=day, label=change.label if change else "", source=source))
            session = calendar.session(day)
            if session is not None and session.kind is not SessionKind.REGULAR:
                sessions.append(
                    CalendarSession(
                        date=day,
                        label=session.label,
                        pre_open_start=session.pre_open_start,
                        open=session.open,
                        close=session.close,
                        full_trading_day=session.counts_as_trading_day,
                        source="admin" if change else "official",
                    )
                )
            day += timedelta(days=1)
        return ExchangeCalendar(
            exchange=exchange,
            year=year,
            provisional=provisional,
            confirmed_until=calendar.confirmed_until(),
            holidays=holidays,
            special_sessions=sessions,
            changes=changes,
        )

    # ------------------------------------------------------------------ changing

    def add_holiday(self, exchange: Exchange, data: HolidayCreate, admin_id: str) -> CalendarChangeResult:
        self._not_past(data.date)
        if is_weekend(data.date):
            raise InvalidInputError(
                f"{data.date.isoformat()} is a weekend: there is no session to close",
                details=[FieldIssue("date", "a weekend day")],
            )
        stored = self._stored(exchange, data.date)
        if stored is not None and stored.kind is ChangeKind.OPEN:
            return self._delete(stored, admin_id)  # the day an admin had declared open closes again
        calendar = self.calendar().for_exchange(exchange)
        # A provisional holiday may be confirmed (the circular lists it); an official one exists.
        if calendar.is_holiday(data.date) and not calendar.is_provisional(data.date):
            raise AlreadyExistsError(
                f"{data.date.isoformat()} is already a holiday on {exchange.value}",
                details=[FieldIssue("date", "already a holiday")],
            )
        change = self._change(exchange, data.date, ChangeKind.HOLIDAY, data.label, admin_id)
        return self._store(change)

    def remove_holiday(self, exchange: Exchange, day: date, admin_id: str) -> CalendarChangeResult:
        """Undo an added holiday, or declare a shipped or provisional holiday a trading day."""
        self._not_past(day)
        stored = self._stored(exchange, day)
        if stored is not None and stored.kind is ChangeKind.HOLIDAY:
            return self._delete(stored, admin_id)
        if stored is not None or not self.calendar().for_exchange(exchange).is_holiday(day):
            raise NotFoundError(f"{day.isoformat()} is not a holiday on {exchange.value}")
        change = self._change(exchange, day, ChangeKind.OPEN, "declared a trading day", admin_id)
        return self._store(change)

    def add_session(self, exchange: Exchange, data: SessionCreate, admin_id: str) -> CalendarChangeResult:
        self._not_past(data.date)
        change = self._change(exchange, data.date, ChangeKind.SESSION, data.label, admin_id, data)
        return self._store(change)

    def remove_session(self, exchange: Exchange, day: date, admin_id: str) -> CalendarChangeResult:
        self._not_past(day)
        stored = self._stored(exchange, day)
        if stored is None or stored.kind is not ChangeKind.SESSION:
            raise NotFoundError(f"no special session added on {exchange.value} on {day.isoformat()}")
        return self._delete(stored, admin_id)

    # ------------------------------------------------------------------ helpers

    def _stored(self, exchange: Exchange, day: date) -> CalendarChange | None:
        return next((c for c in self._changes.all() if c.exchange is exchange and c.date == day), None)

    def _today(self) -> date:
        return to_ist(self._clock.now()).date()

    def _not_past(self, day: date) -> None:
        if day < self._today():
            raise InvalidInputError(
                f"{day.isoformat()} is in the past: the calendar of days already traded is not rewritten",
                details=[FieldIssue("date", "in the past")],
            )

    def _change(
        self,
        exchange: Exchange,
        day: date,
        kind: ChangeKind,
        label: str,
        admin_id: str,
        session: SessionCreate | None = None,
    ) -> CalendarChange:
        return CalendarChange(
            exchange=exchange,
            date=day,
            kind=kind,
            label=label,
            session=session,
            created_by=admin_id,
            created_at=self._clock.now(),
        )

    def _store(self, change: CalendarChange) -> CalendarChangeResult:
        before = self.calendar()
        self._changes.add(change)
        self._cached = None
        after = self.calendar()
        logger.info("Calendar changed", extra={"change": change.model_dump(mode="json")})
        return CalendarChangeResult(change=change, moved_expiries=self._moved(change.exchange, before, after))

    def _delete(self, stored: CalendarChange, admin_id: str) -> CalendarChangeResult:
        before = self.calendar()
        self._changes.remove(stored.exchange, stored.date)
        self._cached = None
        after = self.calendar()
        logger.info(
            "Calendar change removed",
            extra={"change": stored.model_dump(mode="json"), "removed_by": admin_id},
        )
        return CalendarChangeResult(change=stored, moved_expiries=self._moved(stored.exchange, before, after))

    def _moved(
        self, exchange: Exchange, before: TradingCalendar, after: TradingCalendar
    ) -> list[MovedExpiry]:
        """Listed contracts of the exchange's indices whose expiry day the change moved."""
        today = self._today()
        specs = default_specs()
        moved: list[MovedExpiry] = []
        for underlying in Underlying:
            if specs.spec_for(underlying, today).exchange is not exchange:
                continue
            old = {e.nominal: e for e in listed_expiries(underlying, today, before)}
            for expiry in listed_expiries(underlying, today, after):
                previous = old.get(expiry.nominal)
                if previous is not None and previous.expiry != expiry.expiry:
                    moved.append(
                        MovedExpiry(
                            underlying=underlying.value,
                            nominal=expiry.nominal,
                            monthly=expiry.monthly,
                            expiry_before=previous.expiry,
                            expiry_after=expiry.expiry,
                        )
                    )
        return moved
