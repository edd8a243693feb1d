"""The marketplace's stored items (trading-configurations table, keys in `shared_utils.keys`),
mapped explicitly to and from its domain models, as `models.items` does for trading's."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import AwareDatetime, Field

from shared_utils import keys
from shared_utils.market.underlyings import Underlying
from shared_utils.marketplace.models import (
    Category,
    FeeModel,
    Listing,
    ListingState,
    RiskLevel,
    Subscription,
    SubscriptionAllocation,
    SubscriptionStatus,
    SubscriptionView,
)
from shared_utils.models.common import Description, EntityId, Name
from shared_utils.models.items import StoredItem


class ListingItem(StoredItem):
    entity: ClassVar[str] = "LISTING"
    gsi2pk: str | None = None
    gsi2sk: str | None = None
    basket_id: EntityId
    owner_id: EntityId
    name: Name
    description: Description = ""
    category: Category
    risk_level: RiskLevel
    minimum_capital: Decimal
    fee: FeeModel
    underlyings: list[Underlying]
    strategy_count: int = Field(ge=0)
    subscriber_count: int = Field(ge=0)
    state: ListingState
    version: int
    published_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, listing: Listing) -> ListingItem:
        published = listing.state is ListingState.PUBLISHED
        return cls(
            pk=keys.listing_pk(listing.basket_id),
            sk=keys.LISTING_SK,
            gsi2pk=keys.LISTINGS_GSI2PK if published else None,
            gsi2sk=keys.listing_gsi2sk(listing.subscriber_count, listing.basket_id) if published else None,
            **dict(listing),
        )

    def to_domain(self) -> Listing:
        return Listing(**{name: getattr(self, name) for name in Listing.model_fields})


class SubscriptionItem(StoredItem):
    entity: ClassVar[str] = "SUBSCRIPTION"
    gsi1pk: str
    gsi1sk: str
    user_id: EntityId
    basket_id: EntityId
    owner_id: EntityId
    name: Name
    status: SubscriptionStatus
    allocations: list[SubscriptionAllocation]
    fee: FeeModel
    version: int
    subscribed_at: AwareDatetime
    updated_at: AwareDatetime
    ended_at: AwareDatetime | None = None

    @classmethod
    def from_domain(cls, subscription: Subscription, name: str) -> SubscriptionItem:
        return cls(
            pk=keys.user_pk(subscription.user_id),
            sk=keys.subscription_sk(subscription.basket_id),
            gsi1pk=keys.subscribers_gsi1pk(subscription.basket_id),
            gsi1sk=keys.subscriber_gsi1sk(subscription.status.value, subscription.user_id),
            name=name,
            **dict(subscription),
        )

    def to_domain(self) -> Subscription:
        return Subscription(**{name: getattr(self, name) for name in Subscription.model_fields})

    def to_view(self) -> SubscriptionView:
        return SubscriptionView(**{name: getattr(self, name) for name in SubscriptionView.model_fields})
