"""Previewing a strategy draft: its legs, payoff at expiry and Greeks if it entered now. Nothing
is stored.

The legs resolve exactly as an entry resolves them (`execution.planning.resolve_legs`): the same
expiry rules, or the exchange's listing where one is accepted, each contract's own lot, and the
same strike selection on the same market's chain. Premiums are the platform's prices of those
contracts (the market's `price`, what the paper broker fills at). A level or quote missing or
older than the platform's bound is `NoFreshQuoteError` (503): nothing is modelled in its place.
The draft is judged first as saving it would be (`refuse_unrunnable`: a 422
naming the field).

The payoff and its summary come from `market.payoff`; the Greeks are Black-76 on each expiry's
chain price (the index level, or the forward the quotes imply) at each premium's implied
volatility, until the contract's session close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import numpy as np

from shared_utils.brokers.models import OptionInstrument
from shared_utils.catalog.preview_models import (
    PayoffAtExpiry,
    PayoffPoint,
    PositionGreeks,
    PreviewLeg,
    StrategyPreview,
)
from shared_utils.clock import Clock, to_ist
from shared_utils.errors import NoFreshQuoteError
from shared_utils.execution.market import expiry_close
from shared_utils.execution.planning import LegContract, MarketSnapshot, resolve_legs
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.greeks import FloatArray, implied_volatility, year_fraction
from shared_utils.market.options import PricingModel
from shared_utils.market.payoff import PricedLeg, payoff_at_expiry, portfolio_greeks, price_grid, summarise
from shared_utils.market.specs import SpecTable
from shared_utils.market.strikes import OptionChain
from shared_utils.market_data.listing import InstrumentListing
from shared_utils.models.strategy import Strategy, StrategyCreate, refuse_unrunnable

PAYOFF_POINTS = 121
# The chart spans twice the farthest strike's distance from the underlying either side, within
# these bounds (fractions of the underlying): the strikes' kinks stay visible whatever the width.
MIN_PAYOFF_WIDTH = 0.03
MAX_PAYOFF_WIDTH = 0.5
UNSAVED = "unsaved-draft"  # the ids of the transient strategy the planner resolves


class PricedMarket(MarketSnapshot, Protocol):
    """The platform's option market: chains to select strikes on, prices of contracts."""

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        """The contract's current price, or None without a fresh one."""
        ...


class _OneSnapshot:
    """Each expiry's chain read once: strikes, prices and Greeks of one preview come from the
    same minute's chain."""

    def __init__(self, market: MarketSnapshot) -> None:
        self._market = market
        self._chains: dict[tuple[str, date], OptionChain | None] = {}

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        key = (str(underlying), expiry)
        if key not in self._chains:
            self._chains[key] = self._market.chain(str(underlying), expiry)
        return self._chains[key]


class StrategyPreviewer:
    def __init__(
        self,
        market: PricedMarket,
        calendar: Callable[[], TradingCalendar],
        clock: Clock,
        *,
        rate: float,
        listing: Callable[[date], InstrumentListing | None] | None = None,
        specs: SpecTable | None = None,
    ) -> None:
        self._market = market
        self._calendar = calendar
        self._clock = clock
        self._rate = rate
        self._listing = listing
        self._specs = specs

    def preview(self, user_id: str, draft: StrategyCreate) -> StrategyPreview:
        now = self._clock.now()
        trade_date = to_ist(now).date()
        calendar = self._calendar()
        refuse_unrunnable(draft, trade_date, calendar)
        snapshot = _OneSnapshot(self._market)
        listing = self._listing(trade_date) if self._listing is not None else None
        contracts = resolve_legs(
            _unsaved(user_id, draft, now), trade_date, snapshot, calendar, self._specs, listing
        )
        # Each expiry's underlying for Black-76 (its chain's: resolve_legs found every one or raised).
        forwards: dict[date, float] = {}
        for contract in contracts:
            chain = snapshot.chain(draft.underlying, contract.instrument.expiry)
            if chain is not None:
                forwards[contract.instrument.expiry] = chain.underlying_price
        years = {
            expiry: year_fraction(now, expiry_close(draft.underlying, expiry, self._calendar, self._specs))
            for expiry in forwards
        }
        premiums = [self._price(contract) for contract in contracts]
        priced = [
            _priced_leg(contract, premium) for contract, premium in zip(contracts, premiums, strict=True)
        ]
        ivs = self._ivs(contracts, priced, forwards, years)
        nearest = min(forwards)
        return StrategyPreview(
            underlying=draft.underlying,
            expiry=nearest,
            underlying_price=_round(forwards[nearest]),
            priced_at=now,
            legs=[
                PreviewLeg(
                    leg_no=contract.leg_no,
                    option_type=contract.instrument.option_type,
                    side=contract.leg.action,
                    expiry=contract.instrument.expiry,
                    strike=contract.instrument.strike,
                    lots=contract.leg.lots,
                    lot_size=contract.lot_size,
                    premium=premium,
                    iv=None if np.isnan(iv) else round(float(iv), 4),
                )
                for contract, premium, iv in zip(contracts, premiums, ivs.tolist(), strict=True)
            ],
            payoff=_payoff(priced, forwards[nearest]) if len(forwards) == 1 else None,
            greeks=self._greeks(contracts, priced, ivs, forwards, years),
        )

    def _price(self, contract: LegContract) -> Decimal:
        price = self._market.price(contract.instrument)
        if price is None:
            raise NoFreshQuoteError(f"leg {contract.leg_no}: no fresh quote for {contract.instrument.key}")
        return price

    def _ivs(
        self,
        contracts: Sequence[LegContract],
        priced: Sequence[PricedLeg],
        forwards: dict[date, float],
        years: dict[date, float],
    ) -> FloatArray:
        """Each premium's implied volatility (NaN where it has none: no time value, expired)."""
        expiries = [contract.instrument.expiry for contract in contracts]
        return implied_volatility(
            [leg.premium for leg in priced],
            [leg.option_type.value for leg in priced],
            [forwards[expiry] for expiry in expiries],
            [leg.strike for leg in priced],
            [years[expiry] for expiry in expiries],
            self._rate,
            PricingModel.BLACK_76,
        ).volatility

    def _greeks(
        self,
        contracts: Sequence[LegContract],
        priced: Sequence[PricedLeg],
        ivs: FloatArray,
        forwards: dict[date, float],
        years: dict[date, float],
    ) -> PositionGreeks | None:
        """The sum over expiries of each expiry's legs' Greeks on that expiry's forward."""
        if not np.all(np.isfinite(ivs)):
            return None
        delta = gamma = theta = vega = 0.0
        for expiry, forward in forwards.items():
            mine = [i for i, contract in enumerate(contracts) if contract.instrument.expiry == expiry]
            greeks = portfolio_greeks(
                [priced[i] for i in mine],
                forward,
                years[expiry],
                ivs[mine],
                self._rate,
                PricingModel.BLACK_76,
            )
            delta += greeks.delta
            gamma += greeks.gamma
            theta += greeks.theta_per_day
            vega += greeks.vega_per_point
        return PositionGreeks(
            delta=_round(delta),
            gamma=round(gamma, 6),
            theta_per_day=_round(theta),
            vega_per_point=_round(vega),
        )


def _unsaved(user_id: str, draft: StrategyCreate, now: datetime) -> Strategy:
    """The draft as the planner's strategy, never stored."""
    return Strategy.model_validate(
        {
            **draft.model_dump(),
            "strategy_id": UNSAVED,
            "user_id": user_id,
            "basket_id": UNSAVED,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )


def _priced_leg(contract: LegContract, premium: Decimal) -> PricedLeg:
    return PricedLeg(
        option_type=contract.instrument.option_type,
        strike=float(contract.instrument.strike),
        side=contract.leg.action,
        lots=contract.leg.lots,
        lot_size=contract.lot_size,
        premium=float(premium),
    )


def _payoff(legs: Sequence[PricedLeg], underlying_price: float) -> PayoffAtExpiry:
    farthest = max(abs(leg.strike - underlying_price) for leg in legs) / underlying_price
    width = min(MAX_PAYOFF_WIDTH, max(MIN_PAYOFF_WIDTH, 2 * farthest))
    prices = price_grid(legs, underlying_price, width=width, points=PAYOFF_POINTS)
    pnl = payoff_at_expiry(legs, prices)
    summary = summarise(legs)
    return PayoffAtExpiry(
        points=[
            PayoffPoint(price=_round(price), pnl=_round(value))
            for price, value in zip(prices.tolist(), pnl.tolist(), strict=True)
        ],
        max_profit=None if summary.max_profit is None else _round(summary.max_profit),
        max_loss=None if summary.max_loss is None else _round(summary.max_loss),
        breakevens=[_round(price) for price in summary.breakevens],
    )


def _round(value: float) -> float:
    """Rupees and index points to the paisa (-0.0 shown as 0)."""
    return round(float(value), 2) + 0.0
