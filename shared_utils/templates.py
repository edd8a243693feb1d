"""Strategy templates: the common option structures as ready-to-post leg lists.

Strikes are ATM offsets in strike steps, so a template fits every index whatever its strike step;
`expiry` defaults to the current weekly and must be a monthly for indexes without weeklies.
An index itself cannot be held, so the covered call covers its short call with a deep
in-the-money long call (the usual index substitute for the underlying).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.market.options import Action, OptionType
from shared_utils.models.strategy import (
    ExpirySelection,
    Leg,
    MoveToCost,
    ReEntry,
    RiskRules,
    StrikeSelection,
)


class TemplateName(StrEnum):
    IRON_CONDOR = "IRON_CONDOR"
    IRON_BUTTERFLY = "IRON_BUTTERFLY"
    SHORT_STRADDLE = "SHORT_STRADDLE"
    LONG_STRADDLE = "LONG_STRADDLE"
    SHORT_STRANGLE = "SHORT_STRANGLE"
    LONG_STRANGLE = "LONG_STRANGLE"
    COVERED_CALL = "COVERED_CALL"
    CASH_SECURED_PUT = "CASH_SECURED_PUT"
    BULL_CALL_SPREAD = "BULL_CALL_SPREAD"
    BEAR_PUT_SPREAD = "BEAR_PUT_SPREAD"
    BULL_PUT_SPREAD = "BULL_PUT_SPREAD"
    BEAR_CALL_SPREAD = "BEAR_CALL_SPREAD"


class StrategyTemplate(BaseModel):
    """A structure's legs, and the strategy-builder rules it starts with: none. A stop-loss,
    re-entry, wait or move to cost changes what the strategy risks, so each is the trader's
    choice; the template lists them (off) so the editor shows where they go."""

    model_config = ConfigDict(frozen=True)

    name: TemplateName
    description: str
    legs: list[Leg]
    risk: RiskRules = Field(default_factory=RiskRules)
    re_entry: ReEntry | None = None
    move_to_cost: MoveToCost | None = None


_Spec = tuple[Action, OptionType, int]
_B, _S, _CE, _PE = Action.BUY, Action.SELL, OptionType.CE, OptionType.PE

_SPECS: dict[TemplateName, tuple[str, list[_Spec]]] = {
    TemplateName.IRON_CONDOR: (
        "Sell OTM call and put 2 steps out, buy wings 4 steps out: range-bound, limited risk.",
        [(_S, _CE, 2), (_B, _CE, 4), (_S, _PE, -2), (_B, _PE, -4)],
    ),
    TemplateName.IRON_BUTTERFLY: (
        "Sell the ATM straddle, buy wings 3 steps out: pinned market, limited risk.",
        [(_S, _CE, 0), (_B, _CE, 3), (_S, _PE, 0), (_B, _PE, -3)],
    ),
    TemplateName.SHORT_STRADDLE: (
        "Sell ATM call and put: collects the most premium, unlimited risk.",
        [
            (_S, _CE, 0),
            (_S, _PE, 0),
        ],
    ),
    TemplateName.LONG_STRADDLE: (
        "Buy ATM call and put: profits from a large move either way.",
        [
            (_B, _CE, 0),
            (_B, _PE, 0),
        ],
    ),
    TemplateName.SHORT_STRANGLE: (
        "Sell call and put 2 steps out of the money.",
        [(_S, _CE, 2), (_S, _PE, -2)],
    ),
    TemplateName.LONG_STRANGLE: ("Buy call and put 2 steps out of the money.", [(_B, _CE, 2), (_B, _PE, -2)]),
    TemplateName.COVERED_CALL: (
        "Sell an OTM call 2 steps out, covered by a deep ITM long call 10 steps in.",
        [(_B, _CE, -10), (_S, _CE, 2)],
    ),
    TemplateName.CASH_SECURED_PUT: ("Sell one put 2 steps out of the money.", [(_S, _PE, -2)]),
    TemplateName.BULL_CALL_SPREAD: (
        "Buy the ATM call, sell a call 2 steps higher.",
        [(_B, _CE, 0), (_S, _CE, 2)],
    ),
    TemplateName.BEAR_PUT_SPREAD: (
        "Buy the ATM put, sell a put 2 steps lower.",
        [(_B, _PE, 0), (_S, _PE, -2)],
    ),
    TemplateName.BULL_PUT_SPREAD: (
        "Sell the ATM put, buy a put 2 steps lower (credit).",
        [
            (_S, _PE, 0),
            (_B, _PE, -2),
        ],
    ),
    TemplateName.BEAR_CALL_SPREAD: (
        "Sell the ATM call, buy a call 2 steps higher (credit).",
        [
            (_S, _CE, 0),
            (_B, _CE, 2),
        ],
    ),
}


def template(
    name: TemplateName | str, expiry: ExpirySelection = ExpirySelection.CURRENT_WEEKLY, lots: int = 1
) -> StrategyTemplate:
    """A template's legs for `expiry`, each leg `lots` lots per allocated lot."""
    key = TemplateName(name)
    description, specs = _SPECS[key]
    legs = [
        Leg(
            action=action,
            option_type=option_type,
            strike=StrikeSelection.atm(steps),
            expiry=expiry,
            lots=lots,
        )
        for action, option_type, steps in specs
    ]
    return StrategyTemplate(name=key, description=description, legs=legs)


def template_legs(
    name: TemplateName | str, expiry: ExpirySelection = ExpirySelection.CURRENT_WEEKLY, lots: int = 1
) -> list[Leg]:
    return template(name, expiry, lots).legs


def all_templates(expiry: ExpirySelection = ExpirySelection.CURRENT_WEEKLY) -> list[StrategyTemplate]:
    return [template(name, expiry) for name in TemplateName]
