"""A strategy is refused when a leg's expiry cannot be resolved, naming the leg, instead of being
accepted and silently not entered."""

from __future__ import annotations

from datetime import date

from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.underlyings import Underlying
from shared_utils.models.strategy import ExpirySelection, expiry_issues
from shared_utils.templates import template_legs


class UnreadableFrom2027(TradingCalendar):
    """A calendar that cannot answer for 2027 (data that does not reach it)."""

    def __init__(self) -> None:
        shipped = TradingCalendar.default()
        super().__init__([], shipped.covered_years(), [])
        self._shipped = shipped

    def is_trading_day(self, day: date) -> bool:
        if day.year >= 2027:
            raise ConfigurationError(f"no calendar for {day.isoformat()}")
        return self._shipped.is_trading_day(day)

    def next_trading_day(self, day: date) -> date:
        return self._shipped.next_trading_day(day)

    def previous_trading_day(self, day: date) -> date:
        return self._shipped.previous_trading_day(day)


def test_every_kind_resolves_on_the_provisional_calendar_across_the_year_end() -> None:
    legs = template_legs("SHORT_STRADDLE", ExpirySelection.NEXT_MONTHLY)
    for day in (date(2026, 12, 2), date(2026, 12, 30), date(2027, 12, 29)):
        assert expiry_issues(Underlying.NIFTY, legs, day, TradingCalendar.default()) == []


def test_a_leg_whose_expiry_cannot_be_resolved_is_named() -> None:
    legs = template_legs("SHORT_STRADDLE", ExpirySelection.NEXT_MONTHLY)
    issues = expiry_issues(Underlying.NIFTY, legs, date(2026, 12, 2), UnreadableFrom2027())
    assert [issue.field for issue in issues] == [f"legs.{n}.expiry" for n in range(len(legs))]
    assert all("cannot be resolved" in issue.issue for issue in issues)


def test_a_kind_the_index_does_not_list_is_named_without_asking_the_calendar() -> None:
    legs = template_legs("SHORT_STRADDLE", ExpirySelection.CURRENT_WEEKLY)
    issues = expiry_issues(Underlying.BANKNIFTY, legs, date(2026, 12, 2), UnreadableFrom2027())
    assert {issue.issue for issue in issues} == {"BANKNIFTY has no CURRENT_WEEKLY expiry"}
