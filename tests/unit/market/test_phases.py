from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.clock import IST
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.phases import PHASE_TABLE, MarketPhase, phase_at, phase_boundaries

CAL = TradingCalendar.default()
P = MarketPhase


def ist(d: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=IST)


@pytest.mark.parametrize(
    ("hhmm", "before_aug_2026", "from_aug_2026"),
    [
        ("08:59", P.CLOSED, P.CLOSED),
        ("09:00", P.PRE_OPEN, P.PRE_OPEN),
        ("09:14", P.PRE_OPEN, P.PRE_OPEN),
        ("09:15", P.MARKET_OPEN, P.MARKET_OPEN),
        ("09:30", P.MORNING, P.MORNING),
        ("11:59", P.MORNING, P.MORNING),
        ("12:00", P.LUNCH, P.LUNCH),
        ("13:00", P.AFTERNOON, P.AFTERNOON),
        ("15:00", P.PRE_CLOSE, P.AFTERNOON),
        ("15:09", P.PRE_CLOSE, P.AFTERNOON),
        ("15:10", P.PRE_CLOSE, P.PRE_CLOSE),
        ("15:29", P.PRE_CLOSE, P.PRE_CLOSE),
        ("15:30", P.CLOSED, P.PRE_CLOSE),
        ("15:39", P.CLOSED, P.PRE_CLOSE),
        ("15:40", P.CLOSED, P.CLOSED),
    ],
)
def test_phase_table_follows_the_effective_close(hhmm: str, before_aug_2026: P, from_aug_2026: P) -> None:
    hh, mm = (int(x) for x in hhmm.split(":"))
    assert phase_at(ist(date(2026, 7, 31), hh, mm), CAL) is before_aug_2026
    assert phase_at(ist(date(2026, 8, 3), hh, mm), CAL) is from_aug_2026


def test_values_match_the_timer_plan_keys() -> None:
    assert [p.value for p in P] == [
        "pre_open",
        "open",
        "morning",
        "lunch",
        "afternoon",
        "pre_close",
        "closed",
    ]
    assert {row.phase for row in PHASE_TABLE} | {P.CLOSED} == set(P)


def test_weekends_and_holidays_are_closed() -> None:
    assert phase_at(ist(date(2026, 8, 1), 11, 0), CAL) is P.CLOSED  # Saturday
    assert phase_at(ist(date(2026, 10, 2), 11, 0), CAL) is P.CLOSED  # holiday


def test_instant_in_utc_is_read_in_ist() -> None:
    assert phase_at(datetime(2026, 3, 2, 3, 45, tzinfo=UTC), CAL) is P.MARKET_OPEN  # 09:15 IST
    assert phase_at(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), CAL) is P.CLOSED  # 15:30 IST


def test_short_muhurat_session_keeps_a_pre_close() -> None:
    d = date(2025, 10, 21)
    assert phase_at(ist(d, 13, 30), CAL) is P.PRE_OPEN
    assert phase_at(ist(d, 13, 45), CAL) is P.MARKET_OPEN
    assert phase_at(ist(d, 14, 0), CAL) is P.MORNING
    assert phase_at(ist(d, 14, 15), CAL) is P.PRE_CLOSE
    assert phase_at(ist(d, 14, 45), CAL) is P.CLOSED
    assert phase_at(ist(d, 10, 0), CAL) is P.CLOSED


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
def test_boundaries_are_ordered_and_within_the_session(d: date) -> None:
    session = CAL.session(d)
    if session is None:
        return
    starts = [start for _, start in phase_boundaries(session)]
    assert starts == sorted(starts)
    assert starts[0] == session.pre_open_start and starts[-1] == session.close
    assert phase_at(session.open - timedelta(microseconds=1), CAL) is P.PRE_OPEN
