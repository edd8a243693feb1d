"""The subscriber count stays exact when the listing moved between read and write: a stale
read loses the transaction's condition, is re-read and retried, never double-counted."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.clock import FixedClock
from shared_utils.errors import AlreadyExistsError, NotFoundError
from shared_utils.marketplace.models import (
    Category,
    FeeModel,
    Listing,
    ListingState,
    RiskLevel,
    SubscriptionAllocation,
    SubscriptionStatus,
)
from shared_utils.marketplace.repository import DynamoMarketplaceRepository

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
LOTS = [SubscriptionAllocation(broker_account_id="acct-1", broker="ZERODHA", lots=1)]


@pytest.fixture
def repo(aws: dict[str, Any]) -> DynamoMarketplaceRepository:
    return DynamoMarketplaceRepository(aws["dynamodb"], aws["settings"].trading_table_name, FixedClock(NOW))


@pytest.fixture
def listing(repo: DynamoMarketplaceRepository) -> Listing:
    return repo.create_listing(
        Listing(
            basket_id="basket-1", owner_id="admin-1", name="Condors", category=Category.INCOME,
            risk_level=RiskLevel.LOW, minimum_capital=Decimal("100000"), fee=FeeModel(),
            underlyings=["NIFTY"], strategy_count=1, subscriber_count=0, state=ListingState.PUBLISHED,
            version=1, published_at=NOW, updated_at=NOW,
        )
    )  # fmt: skip


def test_a_subscription_written_with_a_stale_count_is_retried_and_counted_once(repo, listing):
    repo.subscribe("trader-1", listing, LOTS)

    repo.subscribe("trader-2", listing, LOTS)  # `listing` still says 0 subscribers

    fresh = repo.get_listing("basket-1")
    assert fresh is not None and fresh.subscriber_count == 2
    found = [
        s.user_id
        for page in repo.subscriptions_of_basket("basket-1", (SubscriptionStatus.ACTIVE,))
        for s in page
    ]
    assert sorted(found) == ["trader-1", "trader-2"]
    ranked, _ = repo.browse()
    assert [item.subscriber_count for item in ranked] == [2]


def test_a_second_subscription_of_the_same_user_changes_nothing(repo, listing):
    repo.subscribe("trader-1", listing, LOTS)
    fresh = repo.get_listing("basket-1")
    assert fresh is not None

    with pytest.raises(AlreadyExistsError):
        repo.subscribe("trader-1", fresh, LOTS)

    again = repo.get_listing("basket-1")
    assert again is not None and again.subscriber_count == 1


def test_a_listing_unpublished_after_it_was_read_refuses_the_subscription(repo, listing):
    repo.replace_listing(
        listing.model_copy(update={"state": ListingState.UNPUBLISHED, "version": 2}), listing
    )

    with pytest.raises(NotFoundError):
        repo.subscribe("trader-1", listing, LOTS)

    assert repo.get_subscription("trader-1", "basket-1") is None
    assert repo.browse() == ([], None)


def test_unsubscribing_with_a_stale_listing_still_lands_on_the_exact_count(repo, listing):
    first = repo.subscribe("trader-1", listing, LOTS)
    repo.subscribe("trader-2", listing, LOTS)

    repo.unsubscribe(first, None)

    fresh = repo.get_listing("basket-1")
    assert fresh is not None and fresh.subscriber_count == 1
    ended = repo.get_subscription("trader-1", "basket-1")
    assert ended is not None and ended.status is SubscriptionStatus.ENDED and ended.ended_at == NOW
