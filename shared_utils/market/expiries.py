"""Which expiries are listed for an index on a trade date.

The nominal expiry days come from the spec in force for each candidate day (so the weekday
switches of 2025-01-01 and 2025-09-01 apply by contract expiry); a nominal day that is a
holiday moves to the previous trading day. A contract is listed on a trade date until the close
of its (shifted) expiry day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import islice

from shared_utils.errors import InvalidInputError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.underlyings import Underlying

# Far enough to reach the next-but-one monthly expiry from any trade date.
_HORIZON = timedelta(days=70)


class ExpiryKind(StrEnum):
    CURRENT_WEEKLY = "current_weekly"
    NEXT_WEEKLY = "next_weekly"
    CURRENT_MONTHLY = "current_monthly"
    NEXT_MONTHLY = "next_monthly"


@dataclass(frozen=True)
class Expiry:
    """A listed contract expiry: the day it expires and the nominal day it was scheduled for.
    `provisional`: worked out on a calendar year without an official holiday list, so a holiday
    announced later may still move it."""

    expiry: date
    nominal: date
    monthly: bool
    provisional: bool = False

    @property
    def shifted(self) -> bool:
        return self.expiry != self.nominal


def _expiries_from(
    underlying: Underlying | str, trade_date: date, calendar: TradingCalendar, table: SpecTable
) -> Iterator[Expiry]:
    """Listed expiries in date order, produced lazily so that a near expiry never needs
    calendar data for a later year."""
    day = trade_date
    end = trade_date + _HORIZON
    while day <= end:
        spec = table.spec_for(underlying, day)
        is_monthly = spec.monthly_rule.nominal_expiry(day.year, day.month) == day
        is_weekly = (
            spec.weekly_expiry_weekday is not None and day.weekday() == spec.weekly_expiry_weekday.iso_index
        )
        if is_monthly or is_weekly:
            own = calendar.for_exchange(spec.exchange)  # the index's exchange's holidays move it
            actual = day if own.is_trading_day(day) else own.previous_trading_day(day)
            if actual >= trade_date:
                provisional = own.is_provisional(day) or own.is_provisional(actual)
                yield Expiry(expiry=actual, nominal=day, monthly=is_monthly, provisional=provisional)
        day += timedelta(days=1)


def listed_expiries(
    underlying: Underlying | str,
    trade_date: date,
    calendar: TradingCalendar,
    specs: SpecTable | None = None,
) -> list[Expiry]:
    """Weekly and monthly expiries listed on `trade_date`, up to and including the next monthly
    after the current one. For an index with weekly contracts the monthly expiry is also its
    last weekly of the month."""
    found: list[Expiry] = []
    for expiry in _expiries_from(underlying, trade_date, calendar, specs or default_specs()):
        found.append(expiry)
        if sum(e.monthly for e in found) == 2:
            break
    return found


def valid_kinds(
    underlying: Underlying | str, trade_date: date, specs: SpecTable | None = None
) -> list[ExpiryKind]:
    """The kinds an index offers: monthly-only indices have no weekly kinds."""
    table = specs or default_specs()
    if table.spec_for(underlying, trade_date).has_weekly:
        return list(ExpiryKind)
    return [ExpiryKind.CURRENT_MONTHLY, ExpiryKind.NEXT_MONTHLY]


def expiry_for(
    underlying: Underlying | str,
    trade_date: date,
    kind: ExpiryKind,
    calendar: TradingCalendar,
    specs: SpecTable | None = None,
) -> date:
    """The expiry date of `kind` for `underlying` as listed on `trade_date`."""
    table = specs or default_specs()
    monthly = kind in (ExpiryKind.CURRENT_MONTHLY, ExpiryKind.NEXT_MONTHLY)
    if not monthly and not table.spec_for(underlying, trade_date).has_weekly:
        kinds = ", ".join(valid_kinds(underlying, trade_date, table))
        raise InvalidInputError(f"{underlying} has no weekly expiries: valid kinds are {kinds}")
    wanted = 0 if kind in (ExpiryKind.CURRENT_WEEKLY, ExpiryKind.CURRENT_MONTHLY) else 1
    candidates = (
        e for e in _expiries_from(underlying, trade_date, calendar, table) if e.monthly or not monthly
    )
    return next(islice(candidates, wanted, None)).expiry
