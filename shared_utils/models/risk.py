"""The user's portfolio rules: an MTM stop-loss, target and trailing stop across all of the day's
strategies of every basket (a basket's own rules are on the basket, `Basket.risk`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.models.common import EntityId
from shared_utils.models.strategy import RiskRules

USER_RISK = (
    "Across all of the day's strategies of every basket (closed ones included): when the MTM stop-loss, "
    "target or trailing stop is hit, every strategy goes flat and enters no more that day. Empty: none."
)


def has_rules(risk: RiskRules) -> bool:
    """Does `risk` set any rule (an empty one is no rule at all)?"""
    return any(value is not None for value in (risk.mtm_stop_loss, risk.mtm_target, risk.trailing_stop_loss))


class RiskSettingsUpdate(BaseModel):
    """Body of `PUT /options/risk-settings`: the rules replace the stored ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"version": 0, "risk": {"mtm_stop_loss": 15000, "mtm_target": 25000}}]
        },
    )

    version: int = Field(ge=0, description="The current version: 0 before the first PUT (409 otherwise)")
    risk: RiskRules = Field(description=USER_RISK)


class RiskSettings(BaseModel):
    """The user's portfolio rules (version 0: never set, no rule)."""

    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    risk: RiskRules = Field(default_factory=RiskRules, description=USER_RISK)
    version: int = Field(default=0, ge=0)
    updated_at: AwareDatetime | None = None


@dataclass(frozen=True)
class PortfolioRules:
    """The rules the minute's check found: by user, and by (user, basket). Scopes without a rule
    are left out."""

    users: dict[str, RiskRules] = field(default_factory=dict)
    baskets: dict[tuple[str, str], RiskRules] = field(default_factory=dict)
