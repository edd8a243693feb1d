"""`MarketView` over the market calendar and phase table (shared_utils.market)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from shared_utils.market.calendar import Session, TradingCalendar
from shared_utils.market.phases import phase_at


class CalendarMarketView:
    """The timer runs on every day with a session, a Muhurat evening included; its first tick is
    the pre-open start and its last the (effective-dated) close."""

    def __init__(self, calendar: TradingCalendar) -> None:
        self._calendar = calendar

    @classmethod
    def default(cls) -> CalendarMarketView:
        return cls(TradingCalendar.default())

    @property
    def calendar(self) -> TradingCalendar:
        return self._calendar

    def _session(self, day: date) -> Session:
        session = self._calendar.session(day)
        if session is None:
            raise ValueError(f"{day.isoformat()} has no session")
        return session

    def is_trading_day(self, day: date) -> bool:
        return self._calendar.session(day) is not None

    def next_session_day(self, day: date) -> date:
        """The first day after `day` with a session of any kind (a Muhurat evening included)."""
        candidate = day + timedelta(days=1)
        while self._calendar.session(candidate) is None:
            candidate += timedelta(days=1)
        return candidate

    def session_bounds(self, day: date) -> tuple[datetime, datetime]:
        session = self._session(day)
        return session.pre_open_start, session.close

    def confirmed_days_left(self, day: date) -> int | None:
        until = self._calendar.confirmed_until()
        return None if until is None else (until - day).days

    def phase_at(self, instant: datetime) -> str:
        return phase_at(instant, self._calendar).value
