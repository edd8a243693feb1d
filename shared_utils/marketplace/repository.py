"""DynamoDB adapter of the marketplace (trading-configurations table, keys in `shared_utils.keys`).

- A listing's subscriber count moves in the same transaction as the subscription write, with a
  condition on the count it was read at (and the rank key recomputed from it), so the count is
  exact and the browse order follows it; a lost race is retried.
- Admin edits to a listing are conditional on its `version`; subscriber churn never bumps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.errors import AlreadyExistsError, ConflictError, NotFoundError
from shared_utils.marketplace.items import ListingItem, SubscriptionItem
from shared_utils.marketplace.models import (
    Category,
    Listing,
    ListingState,
    RiskLevel,
    Subscription,
    SubscriptionAllocation,
    SubscriptionStatus,
)
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.dynamo import CHANGED, MAX_PAGE_SIZE, DynamoTable
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY, USER_EXECUTION_SCHEDULE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNT_RETRIES = 5


class DynamoMarketplaceRepository(DynamoTable):
    def __init__(
        self, client: DynamoDBClient, table_name: str, clock: Clock, cursor_codec: CursorCodec = DEFAULT_CODEC
    ) -> None:
        super().__init__(client, table_name, cursor_codec)
        self._clock = clock

    # ------------------------------------------------------------------ listings

    def get_listing(self, basket_id: str) -> Listing | None:
        raw = self._get(keys.listing_pk(basket_id), keys.LISTING_SK)
        return ListingItem.from_dynamo(raw).to_domain() if raw else None

    def listings_of(self, basket_ids: Iterable[str]) -> dict[str, Listing]:
        """The listings of those baskets that have one (BatchGetItem, 100 keys per request): the
        trigger asks once for every basket due in its minute."""
        item_keys = [
            {"pk": {"S": keys.listing_pk(basket_id)}, "sk": {"S": keys.LISTING_SK}}
            for basket_id in dict.fromkeys(basket_ids)
        ]
        listings = [ListingItem.from_dynamo(raw).to_domain() for raw in self._batch_get(item_keys)]
        return {listing.basket_id: listing for listing in listings}

    def create_listing(self, listing: Listing) -> Listing:
        self._put_if(
            ListingItem.from_domain(listing).to_dynamo(),
            lambda: ConflictError("the listing was published meanwhile; reload it"),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return listing

    def replace_listing(self, listing: Listing, expected: Listing) -> Listing:
        """Write the admin's new terms / state, if neither the version nor the subscriber count
        moved since `expected` was read."""
        self._put_if(
            ListingItem.from_domain(listing).to_dynamo(),
            lambda: ConflictError(f"listing {CHANGED}"),
            ConditionExpression="version = :version AND subscriber_count = :count",
            ExpressionAttributeValues={
                ":version": {"N": str(expected.version)},
                ":count": {"N": str(expected.subscriber_count)},
            },
        )
        return listing

    def browse(
        self,
        *,
        category: Category | None = None,
        underlying: str | None = None,
        risk_level: RiskLevel | None = None,
        limit: int = 25,
        next_token: str | None = None,
    ) -> tuple[list[Listing], str | None]:
        """Published listings, most subscribers first: one query on the sparse GSI2 partition
        (filters applied by DynamoDB; a page may hold fewer than `limit` items)."""
        filters: list[str] = []
        values: dict[str, Any] = {":pk": {"S": keys.LISTINGS_GSI2PK}}
        if category is not None:
            filters.append("category = :category")
            values[":category"] = {"S": category.value}
        if underlying is not None:
            filters.append("contains(underlyings, :underlying)")
            values[":underlying"] = {"S": underlying}
        if risk_level is not None:
            filters.append("risk_level = :risk")
            values[":risk"] = {"S": risk_level.value}
        scope = f"marketplace:{category}:{underlying}:{risk_level}"
        query: dict[str, Any] = {
            "IndexName": USER_EXECUTION_SCHEDULE,
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": values,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
        items, token = self._query_page(query, limit=limit, next_token=next_token, scope=scope)
        return [ListingItem.from_dynamo(raw).to_domain() for raw in items], token

    # ------------------------------------------------------------------ subscriptions

    def get_subscription(self, user_id: str, basket_id: str) -> SubscriptionItem | None:
        raw = self._get(keys.user_pk(user_id), keys.subscription_sk(basket_id))
        return SubscriptionItem.from_dynamo(raw) if raw else None

    def list_subscriptions(
        self, user_id: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[SubscriptionItem], str | None]:
        """The user's subscriptions that have not ended (base-table query on their partition)."""
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "#status <> :ended",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.SUBSCRIPTION_PREFIX},
                ":ended": {"S": SubscriptionStatus.ENDED.value},
            },
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"subscriptions:{user_id}"
        )
        return [SubscriptionItem.from_dynamo(raw) for raw in items], token

    def subscriptions_of_user(self, user_id: str) -> Iterator[Subscription]:
        """Every subscription of a user, ended ones included (one partition query + pages)."""
        for raw in self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.SUBSCRIPTION_PREFIX},
            },
        ):
            yield SubscriptionItem.from_dynamo(raw).to_domain()

    def subscriptions_of_basket(
        self, basket_id: str, statuses: tuple[SubscriptionStatus, ...]
    ) -> Iterator[list[Subscription]]:
        """Pages of a basket's subscriptions in the given statuses: one GSI1 query (plus pages)
        per status, whatever the number of other baskets or users."""
        for status in statuses:
            start_key: str | None = None
            while True:
                page, start_key = self.subscriptions_with_status(basket_id, status, start_key, MAX_PAGE_SIZE)
                if page:
                    yield page
                if start_key is None:
                    break

    def subscriptions_with_status(
        self, basket_id: str, status: SubscriptionStatus, start_key: str | None, limit: int
    ) -> tuple[list[Subscription], str | None]:
        """One page of a basket's subscriptions in one status (GSI1), and where the next page
        starts (DynamoDB's key as JSON: it travels in a queue message, never to a client)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ALLOCATIONS_BY_STRATEGY,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :status)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.subscribers_gsi1pk(basket_id)},
                ":status": {"S": keys.subscriber_status_prefix(status.value)},
            },
            "Limit": limit,
        }
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = json.loads(start_key)
        response = self._client.query(**kwargs)
        page = [SubscriptionItem.from_dynamo(raw).to_domain() for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return page, json.dumps(last, sort_keys=True) if last else None

    def subscriptions_page(
        self, basket_id: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[Subscription], str | None]:
        """One page of every subscription of a basket (any status), for the admin's statements."""
        query = {
            "IndexName": ALLOCATIONS_BY_STRATEGY,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.subscribers_gsi1pk(basket_id)}},
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"subscribers:{basket_id}"
        )
        return [SubscriptionItem.from_dynamo(raw).to_domain() for raw in items], token

    def subscribe(
        self, user_id: str, listing: Listing, allocations: list[SubscriptionAllocation]
    ) -> SubscriptionItem:
        """Subscription put (new, or over an ENDED one) and the listing's count + 1 in one
        transaction; 409 when already subscribed, 404 when the listing is no longer published."""
        for _attempt in range(COUNT_RETRIES):
            previous = self.get_subscription(user_id, listing.basket_id)
            if previous is not None and previous.status is not SubscriptionStatus.ENDED:
                raise AlreadyExistsError("already subscribed to this basket")
            now = self._clock.now()
            subscription = Subscription(
                user_id=user_id,
                basket_id=listing.basket_id,
                owner_id=listing.owner_id,
                status=SubscriptionStatus.ACTIVE,
                allocations=allocations,
                fee=listing.fee,
                version=previous.version + 1 if previous else 1,
                subscribed_at=now,
                updated_at=now,
            )
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": SubscriptionItem.from_domain(subscription, listing.name).to_dynamo(),
            }
            if previous is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "version = :version AND #status = :ended"
                put["ExpressionAttributeNames"] = {"#status": "status"}
                put["ExpressionAttributeValues"] = {
                    ":version": {"N": str(previous.version)},
                    ":ended": {"S": SubscriptionStatus.ENDED.value},
                }
            reasons = self._transact(
                [{"Put": put}, self._count_op(listing, +1, require_published=True)], raise_on_cancel=False
            )
            if reasons is None:
                return SubscriptionItem.from_domain(subscription, listing.name)
            if reasons[0].condition_failed:
                raise AlreadyExistsError("already subscribed to this basket")
            fresh = self.get_listing(listing.basket_id)
            if fresh is None or fresh.state is not ListingState.PUBLISHED:
                raise NotFoundError("basket is not published")
            listing = fresh
        raise ConflictError("the listing kept changing; retry", code="TRANSACTION_CONFLICT")

    def update_subscription(
        self,
        current: SubscriptionItem,
        expected_version: int,
        status: SubscriptionStatus | None,
        allocations: list[SubscriptionAllocation] | None,
    ) -> SubscriptionItem:
        """Pause / resume / new allocations, conditional on the version; never on an ENDED one."""
        now = self._clock.now()
        changes: dict[str, Any] = {"version": expected_version + 1, "updated_at": now}
        if status is not None:
            changes["status"] = status
            changes["gsi1sk"] = keys.subscriber_gsi1sk(status.value, current.user_id)
        if allocations is not None:
            changes["allocations"] = allocations
        updated = current.model_copy(update=changes)
        self._put_if(
            SubscriptionItem.model_validate(updated.model_dump()).to_dynamo(),
            lambda: ConflictError(f"subscription {CHANGED}"),
            **self._live_subscription(expected_version),
        )
        return updated

    def unsubscribe(self, current: SubscriptionItem, expected_version: int | None) -> None:
        """ENDED (kept for statements and exits of open positions) and the listing's count - 1,
        in one transaction."""
        if expected_version is not None and expected_version != current.version:
            raise ConflictError(f"subscription {CHANGED}")
        for _attempt in range(COUNT_RETRIES):
            listing = self.get_listing(current.basket_id)
            now = self._clock.now()
            ended = current.model_copy(
                update={
                    "status": SubscriptionStatus.ENDED,
                    "gsi1sk": keys.subscriber_gsi1sk(SubscriptionStatus.ENDED.value, current.user_id),
                    "version": current.version + 1,
                    "updated_at": now,
                    "ended_at": now,
                }
            )
            ops: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": SubscriptionItem.model_validate(ended.model_dump()).to_dynamo(),
                        **self._live_subscription(current.version),
                    }
                }
            ]
            if listing is not None:
                ops.append(self._count_op(listing, -1, require_published=False))
            reasons = self._transact(ops, raise_on_cancel=False)
            if reasons is None:
                return
            if reasons[0].condition_failed:
                raise ConflictError(f"subscription {CHANGED}")
        raise ConflictError("the listing kept changing; retry", code="TRANSACTION_CONFLICT")

    # ------------------------------------------------------------------ helpers

    def _count_op(self, listing: Listing, delta: int, *, require_published: bool) -> dict[str, Any]:
        """The listing's count moved by `delta`, conditional on the count and state it was read
        at; a published listing's rank key moves with it."""
        count = listing.subscriber_count + delta
        if count < 0:
            raise ConflictError("listing subscriber count would go negative; retry")
        if require_published and listing.state is not ListingState.PUBLISHED:
            raise NotFoundError("basket is not published")
        values: dict[str, Any] = {
            ":expected": {"N": str(listing.subscriber_count)},
            ":count": {"N": str(count)},
            ":state": {"S": listing.state.value},
        }
        expression = "SET subscriber_count = :count"
        if listing.state is ListingState.PUBLISHED:
            expression += ", gsi2sk = :rank"
            values[":rank"] = {"S": keys.listing_gsi2sk(count, listing.basket_id)}
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(keys.listing_pk(listing.basket_id), keys.LISTING_SK),
                "UpdateExpression": expression,
                "ConditionExpression": "subscriber_count = :expected AND #state = :state",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": values,
            }
        }

    @staticmethod
    def _live_subscription(version: int) -> dict[str, Any]:
        """The condition of a write over a subscription read at `version` that has not ended."""
        return {
            "ConditionExpression": "version = :version AND #status <> :ended",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":version": {"N": str(version)},
                ":ended": {"S": SubscriptionStatus.ENDED.value},
            },
        }
