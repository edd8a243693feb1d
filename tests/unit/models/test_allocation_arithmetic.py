"""Lot arithmetic is exact: property tests over inheritance, leg ratios and order slicing."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shared_utils.models.allocation import BrokerAllocation, effective_allocations, leg_lots, split_lots
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import ExpirySelection, Leg, StrikeSelection

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def allocation(
    account: str, lots: int, scope: AllocationScope, max_per_order: int | None = None
) -> BrokerAllocation:
    return BrokerAllocation(
        allocation_id=f"a-{scope.value}-{account}",
        user_id="u1",
        scope=scope,
        scope_id="s1" if scope is AllocationScope.STRATEGY else "b1",
        basket_id="b1",
        broker_account_id=account,
        broker="PAPER",
        lots=lots,
        max_lots_per_order=max_per_order,
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


lots_lists = st.lists(st.integers(min_value=1, max_value=500), max_size=5)


@given(own=lots_lists, defaults=lots_lists)
def test_own_allocations_replace_basket_defaults_entirely(own: list[int], defaults: list[int]) -> None:
    own_allocs = [allocation(f"o{i}", lots, AllocationScope.STRATEGY) for i, lots in enumerate(own)]
    default_allocs = [allocation(f"d{i}", lots, AllocationScope.BASKET) for i, lots in enumerate(defaults)]
    effective = effective_allocations(own_allocs, default_allocs)
    if own:
        assert effective.source is AllocationScope.STRATEGY
        assert effective.total_lots == sum(own)
    else:
        assert effective.source is AllocationScope.BASKET
        assert effective.total_lots == sum(defaults)


@given(total=st.integers(min_value=1, max_value=100_000), limit=st.none() | st.integers(1, 5_000))
def test_split_lots_is_exact_minimal_and_even(total: int, limit: int | None) -> None:
    slices = split_lots(total, limit)
    assert sum(slices) == total
    assert all(size >= 1 for size in slices)
    if limit is None:
        assert slices == [total]
    else:
        assert all(size <= limit for size in slices)
        assert len(slices) == -(-total // limit)
        assert max(slices) - min(slices) <= 1


@given(
    accounts=st.lists(st.tuples(st.integers(1, 200), st.none() | st.integers(1, 50)), min_size=1, max_size=4),
    ratios=st.lists(st.integers(1, 10), min_size=1, max_size=6),
)
def test_leg_lots_multiply_allocation_by_ratio(
    accounts: list[tuple[int, int | None]], ratios: list[int]
) -> None:
    legs = [
        Leg(
            action="SELL",
            option_type="CE",
            strike=StrikeSelection.atm(0),
            expiry=ExpirySelection.CURRENT_WEEKLY,
            lots=r,
        )
        for r in ratios
    ]
    allocs = [
        allocation(f"acc{i}", lots, AllocationScope.STRATEGY, cap) for i, (lots, cap) in enumerate(accounts)
    ]
    plan = leg_lots(legs, allocs)
    assert len(plan) == len(accounts) * len(ratios)
    for entry in plan:
        alloc = next(a for a in allocs if a.broker_account_id == entry.broker_account_id)
        assert entry.lots == alloc.lots * ratios[entry.leg_no - 1]
        assert sum(entry.order_lots) == entry.lots
    assert sum(entry.lots for entry in plan) == sum(lots for lots, _ in accounts) * sum(ratios)
