"""Subscriptions trade: a due strategy of a published basket runs once more per subscription, on
the subscriber's own broker accounts with the subscriber's lots, through the same engine.

`SubscriptionFanOut` is the timer's `ExecutionRequester`: it hands the request to the owner's
requester, then reads the basket's subscriptions from the index (one query + pages per status)
and runs each one. The strategy is read once, at trigger time, so an admin's edit applies from
the next trigger. Entries need a PUBLISHED listing and an ACTIVE subscription; exits run for
every subscription that still holds positions of the strategy (paused, ended, or after the
listing was unpublished), so nothing is left open past its scheduled exit.

Exactly once: a subscriber's run, ledger and positions live in the subscriber's own partition
(`USER#{subscriber}`) under the strategy's id, so the order key of every subscriber order is
`USER#{subscriber}` + `{trade_date}#{strategy_id}#{action}#{account}#{leg}#{slice}`: distinct per
subscriber, and the same on every retry of the same trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import date
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.errors import DomainError, NotFoundError
from shared_utils.execution.models import ExecutionRecord, PositionView
from shared_utils.keys import ScheduleKind
from shared_utils.marketplace.models import Listing, ListingState, Subscription, SubscriptionStatus
from shared_utils.models.allocation import BrokerAllocation, EffectiveAllocations, allocation_id_for
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import StrategyDetail
from shared_utils.timer.triggers import ExecutionRequest, ExecutionRequester

logger = Logger(child=True)

ENTRY_STATUSES = (SubscriptionStatus.ACTIVE,)
EXIT_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED, SubscriptionStatus.ENDED)


class Listings(Protocol):
    def get_listing(self, basket_id: str) -> Listing | None: ...

    def subscriptions_of_basket(
        self, basket_id: str, statuses: tuple[SubscriptionStatus, ...]
    ) -> Iterator[list[Subscription]]: ...


class OwnerStrategies(Protocol):
    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...


class OwnerStrategyBatches(OwnerStrategies, Protocol):
    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]: ...


class PositionReader(Protocol):
    def positions(self, user_id: str, strategy_id: str | None = None) -> list[PositionView]: ...


class SubscriberExecutions(Protocol):
    """The execution service (engine use cases) over a `SubscribedStrategies` reader."""

    @property
    def store(self) -> PositionReader: ...

    def enter(self, user_id: str, strategy_id: str, trade_date: date) -> ExecutionRecord: ...

    def scheduled_exit(self, user_id: str, strategy_id: str, trade_date: date) -> ExecutionRecord | None: ...


class SubscribedStrategies:
    """The execution service's strategy reader for one due strategy and a page of subscriptions:
    the owner's strategy (as read at trigger time) as seen by each subscriber, with the
    subscriber's allocations. Anything else is not found."""

    def __init__(self, strategy: Strategy, subscriptions: Sequence[Subscription]) -> None:
        self._strategy = strategy
        self._subscriptions = {subscription.user_id: subscription for subscription in subscriptions}

    def _subscription(self, user_id: str, strategy_id: str) -> Subscription:
        subscription = self._subscriptions.get(user_id)
        if subscription is None or strategy_id != self._strategy.strategy_id:
            raise NotFoundError("strategy not found")
        return subscription

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy:
        self._subscription(user_id, strategy_id)
        return self._strategy.model_copy(update={"user_id": user_id, "allocation_count": 0})

    def get_strategy_with_allocations(self, user_id: str, strategy_id: str) -> StrategyDetail:
        subscription = self._subscription(user_id, strategy_id)
        return StrategyDetail(
            strategy=self.get_strategy(user_id, strategy_id),
            allocations=EffectiveAllocations(
                source=AllocationScope.BASKET, allocations=subscriber_allocations(subscription)
            ),
        )


def subscriber_allocations(subscription: Subscription) -> list[BrokerAllocation]:
    """A subscription's lots as the engine's broker allocations (basket scope, subscriber's user)."""
    scope_id = f"subscription.{subscription.basket_id}"
    return [
        BrokerAllocation(
            allocation_id=allocation_id_for(scope_id, allocation.broker_account_id),
            user_id=subscription.user_id,
            scope=AllocationScope.BASKET,
            scope_id=subscription.basket_id,
            basket_id=subscription.basket_id,
            broker_account_id=allocation.broker_account_id,
            broker=allocation.broker,
            lots=allocation.lots,
            version=subscription.version,
            created_at=subscription.subscribed_at,
            updated_at=subscription.updated_at,
        )
        for allocation in subscription.allocations
    ]


ServiceFor = Callable[[SubscribedStrategies], SubscriberExecutions]


class SubscriptionFanOut:
    """`ExecutionRequester`: the owner's execution, then one per subscription of the basket."""

    def __init__(
        self,
        owner: ExecutionRequester,
        listings: Listings,
        strategies: OwnerStrategies,
        service_for: ServiceFor,
    ) -> None:
        self._owner = owner
        self._listings = listings
        self._strategies = strategies
        self._service_for = service_for

    def request_execution(self, request: ExecutionRequest) -> None:
        failure: Exception | None = None
        try:
            self._owner.request_execution(request)
        except Exception as error:  # the subscribers still trade; the trigger retries after
            logger.exception("Owner execution failed", extra={"strategy_id": request.strategy_id})
            failure = error
        failed = self.run_subscriptions(request)
        if failure is not None:
            raise failure
        if failed:
            raise SubscriberExecutionError(
                f"{len(failed)} subscriber execution(s) failed: {', '.join(failed)}"
            )

    def run_subscriptions(self, request: ExecutionRequest) -> list[str]:
        """Run every subscription due for `request`; returns the subscribers whose run failed
        (each run is idempotent: a retry of the trigger completes them)."""
        listing = self._listings.get_listing(request.basket_id)
        entry = request.action is ScheduleKind.ENTRY
        if listing is None or (entry and listing.state is not ListingState.PUBLISHED):
            return []
        try:
            strategy = self._strategies.get_strategy(request.user_id, request.strategy_id)
        except NotFoundError:
            return []
        failed: list[str] = []
        ran = 0
        statuses = ENTRY_STATUSES if entry else EXIT_STATUSES
        for page in self._listings.subscriptions_of_basket(request.basket_id, statuses):
            service = self._service_for(SubscribedStrategies(strategy, page))
            for subscription in page:
                try:
                    if self._run_one(service, subscription, request, entry):
                        ran += 1
                except Exception:
                    logger.exception(
                        "Subscriber execution failed",
                        extra={"subscriber": subscription.user_id, "strategy_id": request.strategy_id},
                    )
                    failed.append(subscription.user_id)
        logger.info(
            "Subscriptions executed",
            extra={
                "basket_id": request.basket_id,
                "strategy_id": request.strategy_id,
                "action": request.action.value,
                "executions": ran,
                "failed": len(failed),
            },
        )
        return failed

    def _run_one(
        self,
        service: SubscriberExecutions,
        subscription: Subscription,
        request: ExecutionRequest,
        entry: bool,
    ) -> bool:
        user, strategy_id = subscription.user_id, request.strategy_id
        if entry:
            service.enter(user, strategy_id, request.trade_date)
            return True
        if subscription.status is not SubscriptionStatus.ACTIVE and not any(
            position.net_quantity != 0 for position in service.store.positions(user, strategy_id)
        ):
            return False
        return service.scheduled_exit(user, strategy_id, request.trade_date) is not None


class UserSubscriptions(Protocol):
    def subscriptions_of_user(self, user_id: str) -> Iterator[Subscription]: ...


class SubscriberStrategyLookup:
    """The stop-loss monitor's strategy lookup: the user's own strategy, else the published
    strategy the user holds positions of through a subscription (read at check time, so its
    MTM and leg stop-losses protect subscribers too). One partition query of the user's
    subscriptions plus one get per subscription, only for strategies that are not the user's."""

    def __init__(self, strategies: OwnerStrategyBatches, subscriptions: UserSubscriptions) -> None:
        self._strategies = strategies
        self._subscriptions = subscriptions

    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        """Own strategies in batches; each one not found is looked up through the subscriptions."""
        pairs = list(dict.fromkeys(wanted))
        found = self._strategies.get_strategies(pairs)
        for user_id, strategy_id in pairs:
            if (user_id, strategy_id) not in found:
                with suppress(NotFoundError):
                    found[(user_id, strategy_id)] = self._subscribed(user_id, strategy_id)
        return found

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy:
        try:
            return self._strategies.get_strategy(user_id, strategy_id)
        except NotFoundError:
            return self._subscribed(user_id, strategy_id)

    def _subscribed(self, user_id: str, strategy_id: str) -> Strategy:
        for subscription in self._subscriptions.subscriptions_of_user(user_id):
            try:
                strategy = self._strategies.get_strategy(subscription.owner_id, strategy_id)
            except NotFoundError:
                continue
            if strategy.basket_id == subscription.basket_id:
                return strategy.model_copy(update={"user_id": user_id, "allocation_count": 0})
        raise NotFoundError("strategy not found")


class SubscriberExecutionError(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message=message, code="SUBSCRIBER_EXECUTION_FAILED")
