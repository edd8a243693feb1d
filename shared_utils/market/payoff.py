"""Strategy payoff at expiry, breakevens, max profit/loss and portfolio Greeks.

A strategy's expiry payoff is piecewise linear with kinks at the strikes, so the extremes and
breakevens are found exactly from the kinks and the slope beyond the highest strike, not by
sampling a grid. Quantities are legs x lots x lot size, the lot being the contract's own
(`specs.spec_for(underlying, expiry).lot_size`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from shared_utils.errors import InvalidInputError
from shared_utils.market.greeks import greeks
from shared_utils.market.options import Action, OptionType, PricingModel

FloatArray = npt.NDArray[np.float64]


class PricedLeg(BaseModel):
    """One option leg; `premium` is the entry price per unit."""

    model_config = ConfigDict(frozen=True)

    option_type: OptionType
    strike: float = Field(gt=0)
    side: Action
    lots: PositiveInt
    lot_size: PositiveInt
    premium: float = Field(ge=0)

    @property
    def quantity(self) -> int:
        """Signed units: positive long, negative short."""
        units = self.lots * self.lot_size
        return units if self.side is Action.BUY else -units


@dataclass(frozen=True)
class PayoffSummary:
    max_profit: float | None  # None = unbounded
    max_loss: float | None  # a positive number; None = unbounded
    breakevens: tuple[float, ...]

    @property
    def profit_unbounded(self) -> bool:
        return self.max_profit is None

    @property
    def loss_unbounded(self) -> bool:
        return self.max_loss is None


@dataclass(frozen=True)
class PortfolioGreeks:
    """Sums over legs of quantity x per-unit Greek (trader units for theta and vega)."""

    value: float
    delta: float
    gamma: float
    vega_per_point: float
    theta_per_day: float
    rho: float


def _require_legs(legs: Sequence[PricedLeg]) -> None:
    if not legs:
        raise InvalidInputError("a strategy needs at least one leg")


def payoff_at_expiry(legs: Sequence[PricedLeg], prices: npt.ArrayLike) -> FloatArray:
    """Profit and loss at expiry (net of entry premiums) at each underlying price."""
    _require_legs(legs)
    grid = np.asarray(prices, dtype=np.float64)
    total = np.zeros_like(grid)
    for leg in legs:
        if leg.option_type is OptionType.CE:
            intrinsic = np.maximum(grid - leg.strike, 0.0)
        else:
            intrinsic = np.maximum(leg.strike - grid, 0.0)
        total += leg.quantity * (intrinsic - leg.premium)
    return total


def price_grid(legs: Sequence[PricedLeg], spot: float, width: float = 0.2, points: int = 401) -> FloatArray:
    """An evenly spaced grid around `spot` (+/- width) that also contains every strike."""
    _require_legs(legs)
    if spot <= 0 or not 0 < width < 1 or points < 2:
        raise InvalidInputError("price grid needs spot > 0, 0 < width < 1 and at least 2 points")
    strikes = [leg.strike for leg in legs]
    low = min(spot * (1 - width), *strikes)
    high = max(spot * (1 + width), *strikes)
    return np.unique(np.concatenate([np.linspace(low, high, points), strikes]))


def summarise(legs: Sequence[PricedLeg]) -> PayoffSummary:
    """Max profit, max loss and breakevens of the expiry payoff, over prices from 0 upwards."""
    _require_legs(legs)
    kinks = np.unique(np.concatenate([[0.0], [leg.strike for leg in legs]]))
    values = payoff_at_expiry(legs, kinks)
    upside_slope = float(sum(leg.quantity for leg in legs if leg.option_type is OptionType.CE))
    scale = max(1.0, float(np.max(np.abs(values))))
    flat = abs(upside_slope) <= 1e-12 * scale

    max_profit = None if upside_slope > 0 and not flat else float(values.max())
    worst = None if upside_slope < 0 and not flat else float(values.min())
    max_loss = None if worst is None else max(0.0, -worst)

    breakevens: list[float] = []
    tolerance = 1e-9 * scale
    for (x0, y0), (x1, y1) in pairwise(zip(kinks.tolist(), values.tolist(), strict=True)):
        if abs(y0) <= tolerance and x0 > 0:
            breakevens.append(float(x0))
        elif y0 * y1 < 0 and abs(y1) > tolerance:
            breakevens.append(float(x0 - y0 * (x1 - x0) / (y1 - y0)))
    last_x, last_y = float(kinks[-1]), float(values[-1])
    if abs(last_y) <= tolerance and last_x > 0:
        breakevens.append(last_x)
    elif not flat and last_y * upside_slope < 0:
        breakevens.append(last_x - last_y / upside_slope)
    return PayoffSummary(max_profit=max_profit, max_loss=max_loss, breakevens=tuple(breakevens))


def portfolio_greeks(
    legs: Sequence[PricedLeg],
    underlying_price: float,
    time_to_expiry: npt.ArrayLike,
    volatility: npt.ArrayLike,
    rate: float = 0.0,
    model: PricingModel = PricingModel.BLACK_76,
) -> PortfolioGreeks:
    """Position Greeks; `time_to_expiry` and `volatility` are per leg (or one value for all)."""
    _require_legs(legs)
    types = [leg.option_type.value for leg in legs]
    strikes = np.array([leg.strike for leg in legs])
    quantity = np.array([leg.quantity for leg in legs], dtype=np.float64)
    g = greeks(types, underlying_price, strikes, time_to_expiry, volatility, rate, model)
    return PortfolioGreeks(
        value=float(quantity @ g.price),
        delta=float(quantity @ g.delta),
        gamma=float(quantity @ g.gamma),
        vega_per_point=float(quantity @ g.vega_per_point),
        theta_per_day=float(quantity @ g.theta_per_day),
        rho=float(quantity @ g.rho),
    )
