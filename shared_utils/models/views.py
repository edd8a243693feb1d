"""API output shapes that combine several items (a page, a strategy with its allocations...)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, computed_field

from shared_utils.models.allocation import NO_ALLOCATION_REASON, BrokerAllocation, EffectiveAllocations
from shared_utils.models.basket import Basket
from shared_utils.models.strategy import Strategy

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `next_token` back to get the next page (None: no more)."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_token: str | None = None


class StrategyDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: Strategy
    allocations: EffectiveAllocations

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cannot_enter(self) -> str | None:
        """Why the strategy cannot enter as it stands (the day's record says the same); None
        when nothing stands in the way."""
        if not self.allocations.allocations:
            return NO_ALLOCATION_REASON
        return None


class BasketDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    basket: Basket
    default_allocations: list[BrokerAllocation]
    strategies: list[Strategy]
