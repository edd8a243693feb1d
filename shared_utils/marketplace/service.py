"""Marketplace use cases: publish / unpublish (admins, own baskets), browse, read a published
basket's strategies, subscribe / pause / resume / unsubscribe with one's own broker accounts,
and monthly fee statements. Ports are passed in; nothing here builds a client.

Who sees what:
- every user: published listings and their strategies (never the owner's allocations or id);
- a subscriber: their own subscription (with their own broker accounts) and its statements;
- the owning admin: the statements of their listing's subscribers (never their accounts).
Anything else is 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from shared_utils.clock import Clock
from shared_utils.errors import (
    ConfigurationError,
    ConflictError,
    FieldIssue,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from shared_utils.execution.models import ExecutionRecord
from shared_utils.marketplace import fees
from shared_utils.marketplace.items import SubscriptionItem
from shared_utils.marketplace.models import (
    Category,
    FeeStatement,
    Listing,
    ListingDetail,
    ListingPublish,
    ListingState,
    ListingView,
    PublishedStrategy,
    RiskLevel,
    Subscription,
    SubscriptionAllocation,
    SubscriptionAllocationInput,
    SubscriptionCreate,
    SubscriptionStatus,
    SubscriptionUpdate,
    SubscriptionView,
)
from shared_utils.marketplace.repository import DynamoMarketplaceRepository
from shared_utils.models.views import BasketDetail, Page
from shared_utils.repository.ports import BrokerAccountsReader

RECORDS_PAGE = 100


class BasketReader(Protocol):
    def get_basket_with_strategies(self, user_id: str, basket_id: str) -> BasketDetail: ...


class ExecutionRecords(Protocol):
    def list_records(
        self,
        user_id: str,
        start: datetime,
        end: datetime,
        *,
        strategy_id: str | None = None,
        limit: int = 25,
        next_token: str | None = None,
    ) -> tuple[list[ExecutionRecord], str | None]: ...


class MarketplaceService:
    def __init__(
        self,
        marketplace: DynamoMarketplaceRepository,
        baskets: BasketReader,
        accounts: BrokerAccountsReader,
        records: ExecutionRecords | None,
        clock: Clock,
    ) -> None:
        self._marketplace = marketplace
        self._baskets = baskets
        self._accounts = accounts
        self._records = records
        self._clock = clock

    # ------------------------------------------------------------------ admins

    def publish(self, user_id: str, is_admin: bool, basket_id: str, data: ListingPublish) -> ListingView:
        """Publish (or edit the terms of, or re-publish) one of the admin's own baskets."""
        if not is_admin:
            raise ForbiddenError("only marketplace admins can publish baskets")
        detail = self._baskets.get_basket_with_strategies(user_id, basket_id)
        if not detail.strategies:
            raise InvalidInputError(
                "a basket needs at least one strategy to be published",
                details=[FieldIssue("basket_id", "basket has no strategies")],
            )
        current = self._marketplace.get_listing(basket_id)
        now = self._clock.now()
        terms = {
            "name": detail.basket.name,
            "description": data.description or detail.basket.description,
            "category": data.category,
            "risk_level": data.risk_level,
            "minimum_capital": data.minimum_capital,
            "fee": data.fee,
            "underlyings": sorted({strategy.underlying for strategy in detail.strategies}),
            "strategy_count": len(detail.strategies),
            "state": ListingState.PUBLISHED,
            "updated_at": now,
        }
        if current is None:
            listing = Listing(
                basket_id=basket_id,
                owner_id=user_id,
                subscriber_count=0,
                version=1,
                published_at=now,
                **terms,
            )
            return ListingView.of(self._marketplace.create_listing(listing))
        if current.owner_id != user_id:
            raise NotFoundError("basket not found")
        if data.version is None:
            raise InvalidInputError(
                "this basket is already listed: send the listing's version to change it",
                details=[FieldIssue("version", "required once the listing exists")],
            )
        if data.version != current.version:
            raise ConflictError("listing was changed by someone else; reload it")
        republished = current.state is ListingState.UNPUBLISHED
        listing = current.model_copy(
            update=terms | {"version": current.version + 1} | ({"published_at": now} if republished else {})
        )
        return ListingView.of(self._marketplace.replace_listing(listing, current))

    def unpublish(self, user_id: str, is_admin: bool, basket_id: str, version: int | None) -> None:
        """No new subscriptions or entries; subscriptions stay, so open positions still exit."""
        if not is_admin:
            raise ForbiddenError("only marketplace admins can unpublish baskets")
        current = self._owned_listing(user_id, basket_id)
        if version is not None and version != current.version:
            raise ConflictError("listing was changed by someone else; reload it")
        if current.state is ListingState.UNPUBLISHED:
            return
        listing = current.model_copy(
            update={
                "state": ListingState.UNPUBLISHED,
                "version": current.version + 1,
                "updated_at": self._clock.now(),
            }
        )
        self._marketplace.replace_listing(listing, current)

    def listing_statements(
        self, user_id: str, basket_id: str, month: str, limit: int, next_token: str | None
    ) -> Page[FeeStatement]:
        """The owner's view: every subscriber's statement of the month (no broker accounts)."""
        listing = self._owned_listing(user_id, basket_id)
        subscriptions, token = self._marketplace.subscriptions_page(basket_id, limit, next_token)
        strategy_ids = self._strategy_ids(listing)
        statements = [
            self._statement(subscription, month, strategy_ids)
            for subscription in subscriptions
            if fees.live_in_month(subscription, month)
        ]
        return Page[FeeStatement](items=statements, next_token=token)

    # ------------------------------------------------------------------ everyone

    def browse(
        self,
        *,
        category: Category | None,
        underlying: str | None,
        risk_level: RiskLevel | None,
        limit: int,
        next_token: str | None,
    ) -> Page[ListingView]:
        listings, token = self._marketplace.browse(
            category=category,
            underlying=underlying,
            risk_level=risk_level,
            limit=limit,
            next_token=next_token,
        )
        return Page[ListingView](items=[ListingView.of(listing) for listing in listings], next_token=token)

    def listing_detail(self, user_id: str, basket_id: str) -> ListingDetail:
        """A published basket's listing and strategies, read-only (its owner also sees it unpublished)."""
        listing = self._marketplace.get_listing(basket_id)
        if listing is None or (listing.state is not ListingState.PUBLISHED and listing.owner_id != user_id):
            raise NotFoundError("basket is not published")
        detail = self._baskets.get_basket_with_strategies(listing.owner_id, basket_id)
        return ListingDetail(
            listing=ListingView.of(listing),
            strategies=[PublishedStrategy.of(strategy) for strategy in detail.strategies],
        )

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, user_id: str, data: SubscriptionCreate) -> SubscriptionView:
        listing = self._marketplace.get_listing(data.basket_id)
        if listing is None or listing.state is not ListingState.PUBLISHED:
            raise NotFoundError("basket is not published")
        if listing.owner_id == user_id:
            raise InvalidInputError(
                "you cannot subscribe to your own basket",
                details=[FieldIssue("basket_id", "your own basket trades with its own allocations")],
            )
        allocations = self._own_allocations(user_id, data.allocations)
        return self._marketplace.subscribe(user_id, listing, allocations).to_view()

    def list_subscriptions(self, user_id: str, limit: int, next_token: str | None) -> Page[SubscriptionView]:
        items, token = self._marketplace.list_subscriptions(user_id, limit, next_token)
        return Page[SubscriptionView](items=[item.to_view() for item in items], next_token=token)

    def get_subscription(self, user_id: str, basket_id: str) -> SubscriptionView:
        return self._live_subscription(user_id, basket_id).to_view()

    def update_subscription(self, user_id: str, basket_id: str, data: SubscriptionUpdate) -> SubscriptionView:
        current = self._live_subscription(user_id, basket_id)
        allocations = self._own_allocations(user_id, data.allocations) if data.allocations else None
        return self._marketplace.update_subscription(
            current, data.version, data.status, allocations
        ).to_view()

    def unsubscribe(self, user_id: str, basket_id: str, version: int | None) -> None:
        self._marketplace.unsubscribe(self._live_subscription(user_id, basket_id), version)

    def subscriber_statement(self, user_id: str, basket_id: str, month: str) -> FeeStatement:
        """The subscriber's statement of one month (also after unsubscribing)."""
        item = self._marketplace.get_subscription(user_id, basket_id)
        if item is None:
            raise NotFoundError("subscription not found")
        subscription = item.to_domain()
        listing = self._marketplace.get_listing(basket_id)
        strategy_ids = self._strategy_ids(listing) if listing is not None else []
        return self._statement(subscription, month, strategy_ids)

    # ------------------------------------------------------------------ helpers

    def _owned_listing(self, user_id: str, basket_id: str) -> Listing:
        listing = self._marketplace.get_listing(basket_id)
        if listing is None or listing.owner_id != user_id:
            raise NotFoundError("listing not found")
        return listing

    def _live_subscription(self, user_id: str, basket_id: str) -> SubscriptionItem:
        item = self._marketplace.get_subscription(user_id, basket_id)
        if item is None or item.status is SubscriptionStatus.ENDED:
            raise NotFoundError("subscription not found")
        return item

    def _own_allocations(
        self, user_id: str, wanted: Iterable[SubscriptionAllocationInput]
    ) -> list[SubscriptionAllocation]:
        """Each account must be the caller's own (422 on the offending field otherwise)."""
        allocations: list[SubscriptionAllocation] = []
        for index, allocation in enumerate(wanted):
            account = self._accounts.get_account(user_id, allocation.broker_account_id)
            if account is None:
                raise InvalidInputError(
                    "unknown broker account",
                    details=[
                        FieldIssue(
                            f"allocations.{index}.broker_account_id", "no such broker account for this user"
                        )
                    ],
                )
            allocations.append(
                SubscriptionAllocation(
                    broker_account_id=account.broker_account_id, broker=account.broker, lots=allocation.lots
                )
            )
        return allocations

    def _strategy_ids(self, listing: Listing) -> list[str]:
        try:
            detail = self._baskets.get_basket_with_strategies(listing.owner_id, listing.basket_id)
        except NotFoundError:
            return []
        return [strategy.strategy_id for strategy in detail.strategies]

    def _statement(self, subscription: Subscription, month: str, strategy_ids: list[str]) -> FeeStatement:
        start, end = fees.month_instants(month)
        return fees.statement(
            subscription, month, self._month_records(subscription.user_id, strategy_ids, start, end)
        )

    def _month_records(
        self, user_id: str, strategy_ids: list[str], start: datetime, end: datetime
    ) -> Iterator[ExecutionRecord]:
        if self._records is None:
            raise ConfigurationError("execution history is not configured")
        for strategy_id in strategy_ids:
            token: str | None = None
            while True:
                records, token = self._records.list_records(
                    user_id, start, end, strategy_id=strategy_id, limit=RECORDS_PAGE, next_token=token
                )
                yield from records
                if token is None:
                    break
