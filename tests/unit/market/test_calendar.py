from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.clock import IST
from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import (
    SessionKind,
    TradingCalendar,
    special_session,
)

CAL = TradingCalendar.default()
covered_days = st.dates(min_value=date(2025, 1, 8), max_value=date(2026, 12, 24))

HOLIDAYS_2025 = ["02-26", "03-14", "03-31", "04-10", "04-14", "04-18", "05-01", "08-15", "08-27",
                 "10-02", "10-21", "10-22", "11-05", "12-25"]  # fmt: skip
HOLIDAYS_2026 = ["01-15", "01-26", "03-03", "03-26", "03-31", "04-03", "04-14", "05-01", "05-28",
                 "06-26", "09-14", "10-02", "10-20", "11-10", "11-24", "12-25"]  # fmt: skip


@pytest.mark.parametrize("day", [f"2025-{d}" for d in HOLIDAYS_2025] + [f"2026-{d}" for d in HOLIDAYS_2026])
def test_every_listed_holiday_is_closed(day: str) -> None:
    d = date.fromisoformat(day)
    assert not CAL.is_trading_day(d)
    assert CAL.is_holiday(d)


def test_a_year_without_an_official_list_is_provisional_not_a_refusal() -> None:
    assert CAL.covered_years() == (2025, 2026)
    assert CAL.confirmed_until() == date(2026, 12, 31)
    assert not CAL.is_provisional(date(2026, 12, 31)) and CAL.is_provisional(date(2027, 1, 1))
    # 2027: weekends and the fixed-date national holidays are off, every other weekday trades
    # with the session times in force (the 15:40 close).
    assert CAL.is_trading_day(date(2027, 1, 4))
    session = CAL.session(date(2027, 1, 4))
    assert session is not None and session.close.strftime("%H:%M") == "15:40"
    for holiday in (date(2027, 1, 26), date(2028, 5, 1), date(2028, 12, 25)):
        assert holiday.weekday() < 5 and CAL.is_holiday(holiday) and CAL.session(holiday) is None
    assert CAL.session(date(2027, 1, 2)) is None  # a Saturday
    assert CAL.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 1)
    # Days before the first session rule have no session times: an error, never a guess.
    with pytest.raises(ConfigurationError, match="no session times"):
        CAL.session(date(2024, 12, 31))


def test_session_close_is_effective_dated() -> None:
    before = CAL.session(date(2026, 7, 31))
    after = CAL.session(date(2026, 8, 3))
    assert before is not None and after is not None
    assert before.close == datetime(2026, 7, 31, 15, 30, tzinfo=IST)
    assert after.close == datetime(2026, 8, 3, 15, 40, tzinfo=IST)
    assert after.pre_open_start == datetime(2026, 8, 3, 9, 0, tzinfo=IST)
    assert after.pre_open_end == datetime(2026, 8, 3, 9, 8, tzinfo=IST)
    assert after.open == datetime(2026, 8, 3, 9, 15, tzinfo=IST)
    assert after.open.utcoffset() == timedelta(hours=5, minutes=30)


def test_budget_saturday_is_a_trading_day_and_weekends_are_not() -> None:
    budget = CAL.session(date(2025, 2, 1))
    assert budget is not None and budget.kind is SessionKind.SPECIAL
    assert CAL.is_trading_day(date(2025, 2, 1))
    assert not CAL.is_trading_day(date(2025, 2, 8))
    assert CAL.session(date(2025, 2, 8)) is None
    assert CAL.next_trading_day(date(2025, 1, 31)) == date(2025, 2, 1)


def test_muhurat_session_trades_but_is_not_a_trading_day() -> None:
    muhurat = CAL.session(date(2025, 10, 21))
    assert muhurat is not None and muhurat.kind is SessionKind.MUHURAT
    assert muhurat.open == datetime(2025, 10, 21, 13, 45, tzinfo=IST)
    assert muhurat.close == datetime(2025, 10, 21, 14, 45, tzinfo=IST)
    assert not CAL.is_trading_day(date(2025, 10, 21))
    assert CAL.previous_trading_day(date(2025, 10, 23)) == date(2025, 10, 20)


def test_trading_days_in_a_month() -> None:
    # April 2026: 22 weekdays less 04-03 and 04-14.
    days = CAL.trading_days(date(2026, 4, 1), date(2026, 4, 30))
    assert len(days) == 20
    assert date(2026, 4, 3) not in days and date(2026, 4, 13) in days


def test_previous_and_next_skip_holiday_runs() -> None:
    # 2026-04-03 (Good Friday), weekend.
    assert CAL.next_trading_day(date(2026, 4, 2)) == date(2026, 4, 6)
    assert CAL.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)


def test_admin_changes_add_and_remove_holidays_and_sessions() -> None:
    muhurat_session = special_session(
        date(2026, 11, 8), pre_open_start="18:00", pre_open_end="18:15", open="18:15", close="19:15",
        full_trading_day=False, label="Diwali Muhurat",
    )  # fmt: skip
    cal = CAL.with_changes(
        added_holidays=[date(2026, 12, 31), date(2027, 3, 22)],
        removed_holidays=[date(2026, 12, 25), date(2027, 1, 26)],
        special_sessions=[muhurat_session],
    )
    assert not cal.is_trading_day(date(2027, 3, 22))  # an official date in a provisional year
    assert cal.is_trading_day(date(2027, 1, 26))  # a provisional national holiday declared open
    assert not cal.is_trading_day(date(2026, 12, 31))
    assert cal.is_trading_day(date(2026, 12, 25))
    muhurat = cal.session(date(2026, 11, 8))
    assert muhurat is not None and muhurat.kind is SessionKind.MUHURAT
    assert not cal.is_trading_day(date(2026, 11, 8))
    # The shipped calendar is untouched.
    assert CAL.is_trading_day(date(2026, 12, 31))
    assert CAL.session(date(2026, 11, 8)) is None


def test_default_is_cached() -> None:
    assert TradingCalendar.default() is TradingCalendar.default()


@given(covered_days)
def test_next_and_previous_are_trading_days_on_the_right_side(d: date) -> None:
    nxt, prev = CAL.next_trading_day(d), CAL.previous_trading_day(d)
    assert prev < d < nxt
    assert CAL.is_trading_day(nxt) and CAL.is_trading_day(prev)
    assert all(not CAL.is_trading_day(d + timedelta(days=i)) for i in range(1, (nxt - d).days))
    assert CAL.previous_trading_day(nxt) == (d if CAL.is_trading_day(d) else prev)


@given(covered_days)
def test_trading_days_have_a_session_in_ist(d: date) -> None:
    session = CAL.session(d)
    if CAL.is_trading_day(d):
        assert session is not None
        assert session.pre_open_start < session.pre_open_end <= session.open < session.close
        assert session.open.tzinfo is IST and session.open.date() == d
