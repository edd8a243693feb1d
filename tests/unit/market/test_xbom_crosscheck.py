"""Cross-check of the shipped holidays against exchange-calendars' XBOM (BSE) calendar.

Differences are allowed only when listed here with the reason."""

from __future__ import annotations

from datetime import date, timedelta

import exchange_calendars as xcals
import pytest

from shared_utils.market.calendar import TradingCalendar

# Days where the shipped data and XBOM disagree on purpose: (day, shipped says trading, reason).
ACCEPTED_DIFFERENCES = {
    date(2025, 2, 1): (True, "Saturday Union Budget session; XBOM has no weekend sessions"),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore:.*Series.values")
@pytest.mark.parametrize("year", [2025, 2026])
def test_shipped_trading_days_match_xbom(year: int) -> None:
    xbom = xcals.get_calendar("XBOM", start=f"{year}-01-01", end=f"{year}-12-31")
    xbom_days = {ts.date() for ts in xbom.sessions}
    ours = TradingCalendar.default()
    differences: dict[date, bool] = {}
    day = date(year, 1, 1)
    while day.year == year:
        if ours.is_trading_day(day) != (day in xbom_days):
            differences[day] = ours.is_trading_day(day)
        day += timedelta(days=1)
    expected = {d: v[0] for d, v in ACCEPTED_DIFFERENCES.items() if d.year == year}
    assert differences == expected
