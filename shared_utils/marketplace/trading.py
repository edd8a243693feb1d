"""Subscriptions trade: a due strategy of a published basket runs once more per subscription, on
the subscriber's own broker accounts with the subscriber's lots, through the same engine.

`QueuedExecutions` (the timer's `ExecutionRequester`) queues the owner's run and, for a listed
basket, one fan-out message; the executor's `SubscriberRuns` turns each fan-out message into one
run message per subscription of a page (GSI1, one query per page and status) plus a message for
the next page, and runs each subscriber's message on its own, in parallel with the others.

Exactly once: a subscriber's run, ledger and positions live in the subscriber's own partition
(`USER#{subscriber}`) under the strategy's id, so the order key of every subscriber order is
`USER#{subscriber}` + `{trade_date}#{strategy_id}#{action}#{account}#{leg}#{slice}`: distinct per
subscriber, and the same on every retry of the same trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import date, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.errors import NotFoundError
from shared_utils.execution.models import ExecutionRecord, PositionView
from shared_utils.execution.requests import ExecutionRequest
from shared_utils.execution.runs import RunKind, RunQueue, StrategyRun
from shared_utils.keys import ScheduleKind
from shared_utils.marketplace.models import Listing, ListingState, Subscription, SubscriptionStatus
from shared_utils.models.allocation import BrokerAllocation, EffectiveAllocations, allocation_id_for
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import StrategyDetail
from shared_utils.tracing import tracer

logger = Logger(child=True)

ENTRY_STATUSES = (SubscriptionStatus.ACTIVE,)
EXIT_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED, SubscriptionStatus.ENDED)


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

    def enter(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        *,
        refuse: str | None = None,
        owner_id: str | None = None,
    ) -> ExecutionRecord: ...

    def enter_armed(
        self,
        user_id: str,
        strategy_id: str,
        trade_date: date,
        run_name: str,
        decided_at: datetime,
        *,
        refuse: str | None = None,
    ) -> ExecutionRecord | None: ...

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

# Subscriptions per fan-out message: one query page, then one SendMessageBatch per 10 runs.
SUBSCRIPTION_PAGE = 100


class ListingLookup(Protocol):
    def listings_of(self, basket_ids: Iterable[str]) -> dict[str, Listing]: ...


def owner_run(request: ExecutionRequest) -> StrategyRun:
    """The owner's run of a due schedule entry."""
    return StrategyRun(
        kind=RunKind.ENTRY if request.action is ScheduleKind.ENTRY else RunKind.SCHEDULED_EXIT,
        user_id=request.user_id,
        strategy_id=request.strategy_id,
        trade_date=request.trade_date,
        scheduled_at=request.scheduled_at,
        basket_id=request.basket_id,
    )


class QueuedExecutions:
    """The timer's `ExecutionRequester`: a run message per due strategy for its owner and, for a
    basket listed in the marketplace, a fan-out message that queues its subscribers' runs page
    by page (so a popular basket costs the trigger one message, not one run per subscriber)."""

    def __init__(self, queue: RunQueue, listings: ListingLookup) -> None:
        self._queue = queue
        self._listings = listings

    @tracer.capture_method
    def request_executions(self, requests: Sequence[ExecutionRequest]) -> None:
        listings = self._listings.listings_of({request.basket_id for request in requests}) if requests else {}
        runs: list[StrategyRun] = []
        for request in requests:
            owner = owner_run(request)
            kind = owner.kind
            runs.append(owner)
            listing = listings.get(request.basket_id)
            if listing is not None and (
                kind is RunKind.SCHEDULED_EXIT or listing.state is ListingState.PUBLISHED
            ):
                runs.append(owner.model_copy(update={"kind": RunKind.SUBSCRIBERS, "action": kind}))
        self._queue.send(runs)


class SubscriptionPages(Protocol):
    def subscriptions_with_status(
        self, basket_id: str, status: SubscriptionStatus, start_key: str | None, limit: int
    ) -> tuple[list[Subscription], str | None]: ...

    def get_subscription(self, user_id: str, basket_id: str) -> SubscriptionRecord | None: ...


class SubscriptionRecord(Protocol):
    def to_domain(self) -> Subscription: ...


class SubscriberRuns:
    """The executor's `SubscriberRunner`: fans a due published strategy out to its subscriptions
    and runs one subscriber's entry or exit, on the subscriber's accounts with their lots.

    The owner's strategy is read when the subscriber's run executes (within the minute), so an
    admin's edit applies from the next run. Entries need an ACTIVE subscription (the listing was
    PUBLISHED when the trigger fanned out); exits run for every subscription that still holds
    positions of the strategy (paused, ended, or after the listing was unpublished), so nothing is
    left open past its scheduled exit."""

    def __init__(
        self,
        subscriptions: SubscriptionPages,
        strategies: OwnerStrategies,
        service_for: ServiceFor,
        queue: RunQueue,
        *,
        page_size: int = SUBSCRIPTION_PAGE,
    ) -> None:
        self._subscriptions = subscriptions
        self._strategies = strategies
        self._service_for = service_for
        self._queue = queue
        self._page_size = page_size

    @tracer.capture_method
    def fan_out(self, run: StrategyRun) -> int:
        if run.basket_id is None or run.action is None:
            raise ValueError("a SUBSCRIBERS run needs its basket and action")
        statuses = ENTRY_STATUSES if run.action is RunKind.ENTRY else EXIT_STATUSES
        page, next_key = self._subscriptions.subscriptions_with_status(
            run.basket_id, statuses[run.status_index], run.start_key, self._page_size
        )
        runs = [
            StrategyRun(
                kind=run.action,
                user_id=subscription.user_id,
                strategy_id=run.strategy_id,
                trade_date=run.trade_date,
                scheduled_at=run.scheduled_at,
                owner_id=run.user_id,
                basket_id=run.basket_id,
            )
            for subscription in page
            if subscription.user_id != run.user_id
        ]
        following: StrategyRun | None = None
        if next_key is not None:
            following = run.model_copy(update={"start_key": next_key})
        elif run.status_index + 1 < len(statuses):
            following = run.model_copy(update={"status_index": run.status_index + 1, "start_key": None})
        self._queue.send(runs + ([following] if following is not None else []))
        return len(runs)

    def run(self, run: StrategyRun, *, refuse: str | None = None) -> ExecutionRecord | None:
        if run.owner_id is None or run.basket_id is None:
            raise ValueError("a subscriber run needs its owner and basket")
        record = self._subscriptions.get_subscription(run.user_id, run.basket_id)
        if record is None:
            raise NotFoundError("subscription not found")
        subscription = record.to_domain()
        strategy = self._strategies.get_strategy(run.owner_id, run.strategy_id)
        if strategy.basket_id != run.basket_id:
            raise NotFoundError("strategy not found")
        service = self._service_for(SubscribedStrategies(strategy, [subscription]))
        user = subscription.user_id
        if run.kind is RunKind.ENTRY:
            if subscription.status is not SubscriptionStatus.ACTIVE:
                logger.info("Subscription not active: no entry", extra={"subscriber": user})
                return None
            return service.enter(user, run.strategy_id, run.trade_date, refuse=refuse, owner_id=run.owner_id)
        if run.kind is RunKind.ARMED_ENTRY and run.run_name is not None:
            # Armed while the subscription was active: refused (and disarmed) if it no longer is.
            if subscription.status is not SubscriptionStatus.ACTIVE:
                refuse = refuse or "the subscription is not active"
            return service.enter_armed(
                user, run.strategy_id, run.trade_date, run.run_name, run.scheduled_at, refuse=refuse
            )
        if subscription.status is not SubscriptionStatus.ACTIVE and not any(
            position.net_quantity != 0 for position in service.store.positions(user, run.strategy_id)
        ):
            return None
        return service.scheduled_exit(user, run.strategy_id, run.trade_date)


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

    def subscribed_strategy(self, user_id: str, strategy_id: str) -> tuple[Strategy, str]:
        """A published strategy the user subscribes to, as the user sees it, and its owner
        (the execution service arms a subscriber's re-entry under the owner's strategy)."""
        for subscription in self._subscriptions.subscriptions_of_user(user_id):
            try:
                strategy = self._strategies.get_strategy(subscription.owner_id, strategy_id)
            except NotFoundError:
                continue
            if strategy.basket_id == subscription.basket_id:
                mine = strategy.model_copy(update={"user_id": user_id, "allocation_count": 0})
                return mine, subscription.owner_id
        raise NotFoundError("strategy not found")

    def _subscribed(self, user_id: str, strategy_id: str) -> Strategy:
        return self.subscribed_strategy(user_id, strategy_id)[0]
