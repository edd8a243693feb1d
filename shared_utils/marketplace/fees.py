"""Fee arithmetic (pure): a subscription's monthly statement from its execution history.

- Realised P&L: the sum of `realised_pnl` over the month's EXIT executions of the basket's
  strategies on the subscriber's accounts (entries realise nothing).
- Monthly fee: charged in full for every month the subscription was live on at least one day.
- Performance fee: `performance_fee_pct` % of the realised P&L when it is positive, else 0,
  rounded half-up to the paisa.
- Total due = monthly fee + performance fee.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from shared_utils.clock import IST, to_ist
from shared_utils.execution.models import ExecutionRecord
from shared_utils.keys import ScheduleKind
from shared_utils.marketplace.models import FeeModel, FeeStatement, Subscription

PAISA = Decimal("0.01")
HUNDRED = Decimal(100)


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def month_instants(month: str) -> tuple[datetime, datetime]:
    """[start, end) of the month in IST, as aware datetimes."""
    first, last = month_bounds(month)
    following = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return datetime.combine(first, time(), IST), datetime.combine(following, time(), IST)


def performance_fee(realised_pnl: Decimal, pct: Decimal) -> Decimal:
    if realised_pnl <= 0:
        return Decimal("0.00")
    return (realised_pnl * pct / HUNDRED).quantize(PAISA, rounding=ROUND_HALF_UP)


def live_in_month(subscription: Subscription, month: str) -> bool:
    first, last = month_bounds(month)
    if to_ist(subscription.subscribed_at).date() > last:
        return False
    return subscription.ended_at is None or to_ist(subscription.ended_at).date() >= first


def statement(
    subscription: Subscription, month: str, records: Iterable[ExecutionRecord], fee: FeeModel | None = None
) -> FeeStatement:
    """The statement of `month` for `subscription` from its execution records (any order; only
    EXIT records started within the month count)."""
    terms = fee or subscription.fee
    start, end = month_instants(month)
    exits = [
        record
        for record in records
        if record.action is ScheduleKind.EXIT
        and record.user_id == subscription.user_id
        and start <= record.started_at < end
    ]
    realised = sum((record.realised_pnl for record in exits), Decimal("0")).quantize(PAISA)
    monthly = terms.monthly_fee.quantize(PAISA) if live_in_month(subscription, month) else Decimal("0.00")
    performance = performance_fee(realised, terms.performance_fee_pct)
    first, last = month_bounds(month)
    return FeeStatement(
        basket_id=subscription.basket_id,
        subscriber_id=subscription.user_id,
        month=month,
        period_start=first,
        period_end=last,
        exits=len(exits),
        realised_pnl=realised,
        monthly_fee=monthly,
        performance_fee_pct=terms.performance_fee_pct,
        performance_fee=performance,
        total_due=monthly + performance,
    )
