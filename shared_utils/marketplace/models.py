"""Marketplace models: API input/output and domain (the stored items are in `marketplace.items`).

A listing is an admin's basket published with its terms (category, risk, minimum capital, fee
model). A subscription is another user's copy of those terms with their own broker allocations
(lots per broker account of theirs), applied to every strategy of the basket.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Broker, Description, EntityId, Name, Product
from shared_utils.models.strategy import EntrySchedule, ExitSchedule, Legs, RiskRules, Strategy

MAX_SUBSCRIPTION_ALLOCATIONS = 20
MAX_LOTS_PER_SUBSCRIPTION_ACCOUNT = 10_000

# Amounts a fee can be zero (a free listing); JSON carries them as numbers, storage as exact Decimals.
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
# Signed rupee amounts (P&L) in statements.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Calendar month, YYYY-MM")]


class Category(StrEnum):
    INCOME = "INCOME"
    DIRECTIONAL = "DIRECTIONAL"
    HEDGED = "HEDGED"
    VOLATILITY = "VOLATILITY"
    EXPIRY_DAY = "EXPIRY_DAY"
    OTHER = "OTHER"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ListingState(StrEnum):
    PUBLISHED = "PUBLISHED"
    UNPUBLISHED = "UNPUBLISHED"


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"  # trades every due entry and exit
    PAUSED = "PAUSED"  # no new entries; open positions still exit on schedule
    ENDED = "ENDED"  # unsubscribed; kept for statements and for exits of open positions


class FeeModel(BaseModel):
    """Monthly subscription fee (rupees) and/or a performance fee in % of positive realised profit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_fee: Amount = Decimal("0")
    performance_fee_pct: Percent = Decimal("0")


# ------------------------------------------------------------------ listings


class ListingPublish(BaseModel):
    """Body of `PUT /options/marketplace/listings/{basket_id}`: publish, re-publish or edit terms.
    `version` is required once the listing exists (409 when stale)."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    description: Description = ""
    minimum_capital: Amount
    risk_level: RiskLevel
    fee: FeeModel = Field(default_factory=FeeModel)
    version: int | None = Field(default=None, ge=1)


class Listing(BaseModel):
    """A basket's marketplace listing (domain)."""

    model_config = ConfigDict(frozen=True)

    basket_id: EntityId
    owner_id: EntityId
    name: Name
    description: Description = ""
    category: Category
    risk_level: RiskLevel
    minimum_capital: Amount
    fee: FeeModel
    underlyings: list[Underlying]
    strategy_count: int = Field(ge=0)
    subscriber_count: int = Field(ge=0)
    state: ListingState
    version: int = Field(ge=1)
    published_at: AwareDatetime
    updated_at: AwareDatetime


class ListingView(BaseModel):
    """A listing as every user sees it (no owner id, no broker data)."""

    model_config = ConfigDict(frozen=True)

    basket_id: EntityId
    name: Name
    description: Description = ""
    category: Category
    risk_level: RiskLevel
    minimum_capital: Amount
    fee: FeeModel
    underlyings: list[Underlying]
    strategy_count: int
    subscriber_count: int
    state: ListingState
    version: int
    published_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, listing: Listing) -> ListingView:
        return cls.model_validate(listing.model_dump(exclude={"owner_id"}))


class PublishedStrategy(BaseModel):
    """A published strategy, read-only: what it trades and when, never its owner's allocations."""

    model_config = ConfigDict(frozen=True)

    strategy_id: EntityId
    name: Name
    underlying: Underlying
    product: Product
    legs: Legs
    entry: EntrySchedule
    exit: ExitSchedule | None = None
    risk: RiskRules
    version: int
    updated_at: AwareDatetime

    @classmethod
    def of(cls, strategy: Strategy) -> PublishedStrategy:
        return cls.model_validate({name: getattr(strategy, name) for name in cls.model_fields})


class ListingDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    listing: ListingView
    strategies: list[PublishedStrategy]


# ------------------------------------------------------------------ subscriptions


class SubscriptionAllocationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker_account_id: EntityId = Field(description="One of the caller's own broker accounts")
    lots: int = Field(ge=1, le=MAX_LOTS_PER_SUBSCRIPTION_ACCOUNT, description="Lots per strategy lot")


def _unique_accounts(allocations: list[SubscriptionAllocationInput]) -> list[SubscriptionAllocationInput]:
    accounts = [allocation.broker_account_id for allocation in allocations]
    if len(set(accounts)) != len(accounts):
        raise ValueError("each broker account may appear once")
    return allocations


class SubscriptionCreate(BaseModel):
    """Body of `POST /options/subscriptions`."""

    model_config = ConfigDict(extra="forbid")

    basket_id: EntityId
    allocations: list[SubscriptionAllocationInput] = Field(
        min_length=1, max_length=MAX_SUBSCRIPTION_ALLOCATIONS
    )

    @field_validator("allocations")
    @classmethod
    def _unique(cls, value: list[SubscriptionAllocationInput]) -> list[SubscriptionAllocationInput]:
        return _unique_accounts(value)


class SubscriptionUpdate(BaseModel):
    """Body of `PUT /options/subscriptions/{basket_id}`: pause/resume and/or new allocations."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    status: SubscriptionStatus | None = Field(default=None, description="ACTIVE (resume) or PAUSED")
    allocations: list[SubscriptionAllocationInput] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIPTION_ALLOCATIONS
    )

    @field_validator("status")
    @classmethod
    def _not_ended(cls, value: SubscriptionStatus | None) -> SubscriptionStatus | None:
        if value is SubscriptionStatus.ENDED:
            raise ValueError("use DELETE to unsubscribe")
        return value

    @field_validator("allocations")
    @classmethod
    def _unique(
        cls, value: list[SubscriptionAllocationInput] | None
    ) -> list[SubscriptionAllocationInput] | None:
        return None if value is None else _unique_accounts(value)


class SubscriptionAllocation(BaseModel):
    """Lots of every strategy of the basket placed on one of the subscriber's broker accounts."""

    model_config = ConfigDict(frozen=True)

    broker_account_id: EntityId
    broker: Broker
    lots: int = Field(ge=1, le=MAX_LOTS_PER_SUBSCRIPTION_ACCOUNT)


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    basket_id: EntityId
    owner_id: EntityId
    status: SubscriptionStatus
    allocations: list[SubscriptionAllocation]
    fee: FeeModel = Field(description="The listing's fee terms when the subscription started")
    version: int = Field(ge=1)
    subscribed_at: AwareDatetime
    updated_at: AwareDatetime
    ended_at: AwareDatetime | None = None


class SubscriptionView(BaseModel):
    """What the subscriber sees of their own subscription."""

    model_config = ConfigDict(frozen=True)

    basket_id: EntityId
    name: Name
    status: SubscriptionStatus
    allocations: list[SubscriptionAllocation]
    fee: FeeModel
    version: int
    subscribed_at: AwareDatetime
    updated_at: AwareDatetime
    ended_at: AwareDatetime | None = None


# ------------------------------------------------------------------ fees


class FeeStatement(BaseModel):
    """One subscription's month: realised P&L of its exits and the fees due on it."""

    model_config = ConfigDict(frozen=True)

    basket_id: EntityId
    subscriber_id: EntityId
    month: Month
    period_start: date = Field(description="First day of the month (IST)")
    period_end: date = Field(description="Last day of the month (IST)")
    exits: int = Field(ge=0, description="Exit executions counted")
    realised_pnl: Money
    monthly_fee: Money
    performance_fee_pct: Money
    performance_fee: Money = Field(description="performance_fee_pct of the realised P&L when positive")
    total_due: Money
    currency: str = "INR"


__all__ = [
    "Category",
    "FeeModel",
    "FeeStatement",
    "Listing",
    "ListingDetail",
    "ListingPublish",
    "ListingState",
    "ListingView",
    "PublishedStrategy",
    "RiskLevel",
    "Subscription",
    "SubscriptionAllocation",
    "SubscriptionAllocationInput",
    "SubscriptionCreate",
    "SubscriptionStatus",
    "SubscriptionUpdate",
    "SubscriptionView",
]
