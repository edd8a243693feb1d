"""Broker allocations: how many lots of a strategy go to each broker account, and the exact
arithmetic that turns them into per-leg lot counts and order slices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.models.common import AllocationScope, Broker, EntityId, Rupees
from shared_utils.models.strategy import Leg

MAX_LOTS_PER_ALLOCATION = 10_000
# Keeps a strategy delete (strategy + 2 schedule entries + basket counter + allocations) in one
# transaction, far below DynamoDB's 100-item cap.
MAX_ALLOCATIONS_PER_OWNER = 20
ALLOCATION_LIMIT = "ALLOCATION_LIMIT"  # the error code of an owner with the most allocations
_ALLOCATION_NAMESPACE = uuid.UUID("1d7c2f4e-4a35-5b8e-9a55-0d6f2c7b9e11")


class AllocationLimits(BaseModel):
    """Optional risk limits of one strategy-broker combination (fields shared by input and domain)."""

    max_lots_per_order: int | None = Field(default=None, ge=1, le=MAX_LOTS_PER_ALLOCATION)
    max_orders_per_day: int | None = Field(default=None, ge=1, le=10_000)
    max_loss_per_day: Rupees | None = None


class AllocationCreate(AllocationLimits):
    """Body of `POST .../allocations`. The broker is taken from the broker account itself."""

    model_config = ConfigDict(extra="forbid")

    broker_account_id: EntityId
    lots: int = Field(ge=1, le=MAX_LOTS_PER_ALLOCATION)


class AllocationUpdate(BaseModel):
    """Body of `PATCH .../allocations/{id}`; an explicit null clears a limit."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    lots: int | None = Field(default=None, ge=1, le=MAX_LOTS_PER_ALLOCATION)
    max_lots_per_order: int | None = Field(default=None, ge=1, le=MAX_LOTS_PER_ALLOCATION)
    max_orders_per_day: int | None = Field(default=None, ge=1, le=10_000)
    max_loss_per_day: Rupees | None = None

    def changes(self) -> dict[str, Any]:
        changed = {name: getattr(self, name) for name in self.model_fields_set if name != "version"}
        if "lots" in changed and changed["lots"] is None:
            raise ValueError("lots cannot be cleared")
        return changed


class BrokerAllocation(AllocationLimits):
    """Lots of a strategy (scope STRATEGY) or a basket default (scope BASKET) for one account."""

    model_config = ConfigDict(frozen=True)

    allocation_id: EntityId
    user_id: EntityId
    scope: AllocationScope
    scope_id: EntityId
    basket_id: EntityId
    broker_account_id: EntityId
    broker: Broker
    lots: int = Field(ge=1, le=MAX_LOTS_PER_ALLOCATION)
    version: int = Field(ge=1)
    created_at: AwareDatetime
    updated_at: AwareDatetime


def allocation_id_for(scope_id: str, broker_account_id: str) -> str:
    """Deterministic id: one allocation per account per strategy (or basket), enforced by the key."""
    return str(uuid.uuid5(_ALLOCATION_NAMESPACE, f"{scope_id}#{broker_account_id}"))


# Why a strategy without allocations (its own or its basket's) cannot enter: its detail and the
# day's execution record say the same.
NO_ALLOCATION_REASON = "no broker allocation: give the strategy or its basket one"


class EffectiveAllocations(BaseModel):
    """What a strategy actually trades with: its own allocations, else its basket's defaults."""

    model_config = ConfigDict(frozen=True)

    source: AllocationScope
    allocations: list[BrokerAllocation]

    @property
    def total_lots(self) -> int:
        return sum(allocation.lots for allocation in self.allocations)


def effective_allocations(
    own: Sequence[BrokerAllocation], basket_defaults: Sequence[BrokerAllocation]
) -> EffectiveAllocations:
    """Inheritance rule: any own allocation replaces all basket defaults (no merging per account)."""
    if own:
        return EffectiveAllocations(source=AllocationScope.STRATEGY, allocations=list(own))
    return EffectiveAllocations(source=AllocationScope.BASKET, allocations=list(basket_defaults))


def split_lots(total_lots: int, max_lots_per_order: int | None) -> list[int]:
    """Order slices for `total_lots`: as few orders as the limit allows, sizes differing by at most 1."""
    if total_lots < 1:
        raise ValueError("total_lots must be >= 1")
    if max_lots_per_order is None or total_lots <= max_lots_per_order:
        return [total_lots]
    if max_lots_per_order < 1:
        raise ValueError("max_lots_per_order must be >= 1")
    orders = -(-total_lots // max_lots_per_order)
    base, extra = divmod(total_lots, orders)
    return [base + 1] * extra + [base] * (orders - extra)


class LegLots(BaseModel):
    """Lots of one leg for one broker account, already split into order slices."""

    model_config = ConfigDict(frozen=True)

    broker_account_id: str
    broker: str
    leg_no: int = Field(ge=1)
    lots: int = Field(ge=1)
    order_lots: list[int]


def leg_lots(legs: Sequence[Leg], allocations: Sequence[BrokerAllocation]) -> list[LegLots]:
    """Per-account, per-leg lots: allocation lots x the leg's lots ratio, exactly, in integers."""
    plan: list[LegLots] = []
    for allocation in allocations:
        for leg_no, leg in enumerate(legs, start=1):
            lots = allocation.lots * leg.lots
            plan.append(
                LegLots(
                    broker_account_id=allocation.broker_account_id,
                    broker=allocation.broker,
                    leg_no=leg_no,
                    lots=lots,
                    order_lots=split_lots(lots, allocation.max_lots_per_order),
                )
            )
    return plan
