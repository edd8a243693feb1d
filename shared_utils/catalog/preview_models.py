"""What `POST /options/strategy-preview` answers: a strategy draft priced on the market now.

Kept apart from the pricing (`catalog.preview`, which loads NumPy): the strategies' handler
imports these models at its cold start, and only a preview request pays for the arithmetic.
Strikes are plain JSON numbers (`Strike`), money and Greeks JSON numbers.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.brokers.models import Strike
from shared_utils.execution.models import Money
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying


class PreviewLeg(BaseModel):
    """One leg resolved to the contract an entry would trade now, at its current price."""

    model_config = ConfigDict(frozen=True)

    leg_no: int = Field(ge=1, description="The leg's number (1-based, in the draft's order)")
    option_type: OptionType
    side: Action
    expiry: date = Field(description="The contract's expiry, as the leg's expiry choice resolves today")
    strike: Strike = Field(description="The strike the leg's strike selection picks on the current chain")
    lots: int = Field(ge=1, description="The leg's lots per allocated lot")
    lot_size: int = Field(ge=1, description="The contract's own lot size (that of its expiry)")
    premium: Money = Field(description="Rupees per unit: the contract's current price")
    iv: float | None = Field(
        default=None,
        description="Implied volatility of `premium` (0.14 is 14%); null when the premium has no "
        "time value left to imply one from",
    )


class PayoffPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    price: float = Field(description="The underlying's price at expiry")
    pnl: float = Field(description="Rupees: profit (+) or loss (-) at that price, net of the premiums")


class PayoffAtExpiry(BaseModel):
    """The position's profit and loss at expiry, for one allocated lot; the extremes and
    breakevens are exact (from the strikes), not read off the points."""

    model_config = ConfigDict(frozen=True)

    points: list[PayoffPoint] = Field(
        description="About 120 prices around the underlying, every strike among them, ascending"
    )
    max_profit: float | None = Field(description="Rupees; null when the profit is unbounded")
    max_loss: float | None = Field(description="Rupees, a positive number; null when the loss is unbounded")
    breakevens: list[float] = Field(
        description="Underlying prices at expiry where the P&L is zero, ascending"
    )


class PositionGreeks(BaseModel):
    """The position's Greeks for one allocated lot (each leg's lots x lot size), in rupees:
    Black-76 on each expiry's forward at the premium's implied volatility."""

    model_config = ConfigDict(frozen=True)

    delta: float = Field(description="Rupees per point the underlying moves")
    gamma: float = Field(description="Change of delta per point the underlying moves")
    theta_per_day: float = Field(description="Rupees per calendar day")
    vega_per_point: float = Field(description="Rupees per volatility point (0.01)")


class StrategyPreview(BaseModel):
    """A strategy draft as an entry would trade it if it ran now; nothing is stored."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    expiry: date = Field(description="The nearest expiry among the legs (the payoff's)")
    underlying_price: float = Field(
        description="The price the ATM strike is measured from: the index level, or the forward "
        "implied by the nearest expiry's quotes"
    )
    priced_at: AwareDatetime = Field(
        description="When the draft was priced; every price used was fresh then (the platform's "
        "quote age bound)"
    )
    legs: list[PreviewLeg]
    payoff: PayoffAtExpiry | None = Field(
        description="Null when the legs expire on different days (a calendar spread has no single "
        "payoff at expiry)"
    )
    greeks: PositionGreeks | None = Field(
        description="Null when a leg's premium has no implied volatility (no time value left)"
    )
