"""Fee statement arithmetic: realised P&L of the month's exits, monthly fee, performance fee on
positive profit only, rounded half-up to the paisa."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared_utils.execution.models import ExecutionRecord, ExecutionStatus
from shared_utils.keys import ScheduleKind, listing_gsi2sk
from shared_utils.marketplace.fees import month_bounds, month_instants, performance_fee, statement
from shared_utils.marketplace.models import FeeModel, Subscription, SubscriptionStatus

NOV = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)


def subscription(
    fee: FeeModel, subscribed_at: datetime = NOV, ended_at: datetime | None = None
) -> Subscription:
    return Subscription(
        user_id="trader-1",
        basket_id="basket-1",
        owner_id="admin-1",
        status=SubscriptionStatus.ENDED if ended_at else SubscriptionStatus.ACTIVE,
        allocations=[],
        fee=fee,
        version=1,
        subscribed_at=subscribed_at,
        updated_at=subscribed_at,
        ended_at=ended_at,
    )


def record(
    pnl: Decimal | str, at: datetime = NOV, action: ScheduleKind = ScheduleKind.EXIT, user: str = "trader-1"
) -> ExecutionRecord:
    return ExecutionRecord(
        user_id=user,
        strategy_id="strat-1",
        action=action,
        run_name=action.value,
        trade_date=at.date(),
        started_at=at,
        updated_at=at,
        status=ExecutionStatus.COMPLETE,
        realised_pnl=Decimal(pnl),
    )


def test_a_profitable_month_pays_the_monthly_fee_and_the_performance_share():
    fee = FeeModel(monthly_fee=Decimal("999"), performance_fee_pct=Decimal("12.5"))
    records = [
        record("1500.25"),
        record("-300.10", NOV + timedelta(days=1)),
        record("7777", action=ScheduleKind.ENTRY),
    ]

    result = statement(subscription(fee), "2026-11", records)

    assert result.exits == 2
    assert result.realised_pnl == Decimal("1200.15")
    assert result.monthly_fee == Decimal("999.00")
    assert result.performance_fee == Decimal("150.02")  # 150.01875 rounds half-up
    assert result.total_due == Decimal("1149.02")
    assert (result.period_start, result.period_end) == (date(2026, 11, 1), date(2026, 11, 30))


def test_a_losing_month_pays_no_performance_fee():
    fee = FeeModel(monthly_fee=Decimal("0"), performance_fee_pct=Decimal("20"))

    result = statement(subscription(fee), "2026-11", [record("-2500")])

    assert result.realised_pnl == Decimal("-2500.00")
    assert result.performance_fee == Decimal("0.00") and result.total_due == Decimal("0.00")


def test_only_the_months_exits_in_ist_count_and_no_fee_before_subscribing_or_after_ending():
    fee = FeeModel(monthly_fee=Decimal("500"), performance_fee_pct=Decimal("10"))
    # 31 Oct 19:00 UTC is 1 Nov 00:30 IST: November. 30 Nov 18:30 UTC is 1 Dec 00:00 IST: December.
    records = [
        record("100", datetime(2026, 10, 31, 19, 0, tzinfo=UTC)),
        record("1000", datetime(2026, 11, 30, 18, 30, tzinfo=UTC)),
        record("50", NOV, user="someone-else"),
    ]

    november = statement(
        subscription(fee, subscribed_at=datetime(2026, 10, 1, tzinfo=UTC)), "2026-11", records
    )
    before = statement(subscription(fee), "2026-10", records)
    after = statement(subscription(fee, ended_at=NOV), "2026-12", records)

    assert (november.exits, november.realised_pnl, november.total_due) == (
        1,
        Decimal("100.00"),
        Decimal("510.00"),
    )
    assert before.monthly_fee == Decimal("0.00")
    # positions left open when unsubscribing still exit; their profit still carries the performance fee
    assert (after.monthly_fee, after.exits, after.performance_fee) == (Decimal("0.00"), 1, Decimal("100.00"))


def test_month_bounds_cover_leap_februaries_and_december():
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    start, end = month_instants("2026-12")
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T00:00:00+05:30", "2027-01-01T00:00:00+05:30")


money = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2)
percent = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)


@given(st.lists(money, max_size=20), money.filter(lambda m: m >= 0), percent)
def test_total_due_is_the_monthly_fee_plus_a_bounded_share_of_positive_profit(pnls, monthly, pct):
    fee = FeeModel(monthly_fee=monthly, performance_fee_pct=pct)

    result = statement(subscription(fee), "2026-11", [record(pnl) for pnl in pnls])

    realised = sum(pnls, Decimal("0"))
    assert result.realised_pnl == realised
    assert result.total_due == result.monthly_fee + result.performance_fee
    assert result.monthly_fee == monthly
    if realised <= 0:
        assert result.performance_fee == 0
    else:
        assert 0 <= result.performance_fee <= realised
        assert abs(result.performance_fee - realised * pct / 100) <= Decimal("0.005")


@given(money.filter(lambda m: m > 0), percent, percent)
def test_a_higher_percentage_never_charges_less(profit, low, high):
    low, high = sorted((low, high))
    assert performance_fee(profit, low) <= performance_fee(profit, high)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_more_subscribers_sort_first_in_the_listing_index(a, b):
    assert (listing_gsi2sk(a, "x") < listing_gsi2sk(b, "x")) == (a > b)
