"""Baskets: a user's named group of up to 10 strategies with default broker allocations."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.models.common import Description, EntityId, Name, Visibility
from shared_utils.models.strategy import MAX_STRATEGIES_PER_BASKET, RiskRules

BASKET_RISK = (
    "The basket's portfolio rules: MTM stop-loss, target and trailing stop across all of the day's "
    "strategies of the basket (closed ones included); when one is hit, every strategy of the basket "
    "goes flat and enters no more that day. Empty: none."
)


class BasketCreate(BaseModel):
    """Body of `POST /baskets`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    visibility: Visibility = Visibility.PRIVATE
    risk: RiskRules = Field(default_factory=RiskRules, description=BASKET_RISK)


class BasketUpdate(BaseModel):
    """Body of `PATCH /baskets/{id}`: only the fields given change; `version` must be current."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    name: Name | None = None
    description: Description | None = None
    visibility: Visibility | None = None
    risk: RiskRules | None = Field(default=None, description=BASKET_RISK)

    def changes(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name != "version" and getattr(self, name) is not None
        }


class Basket(BaseModel):
    model_config = ConfigDict(frozen=True)

    basket_id: EntityId
    user_id: EntityId
    name: Name
    description: Description = ""
    visibility: Visibility = Visibility.PRIVATE
    risk: RiskRules = Field(default_factory=RiskRules, description=BASKET_RISK)
    strategy_count: int = Field(default=0, ge=0, le=MAX_STRATEGIES_PER_BASKET)
    default_allocation_count: int = Field(default=0, ge=0)
    version: int = Field(ge=1)
    created_at: AwareDatetime
    updated_at: AwareDatetime
