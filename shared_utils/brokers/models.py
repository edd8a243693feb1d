"""Broker-neutral order, position and quote models: what the execution engine hands the port.

Prices are exact decimals in rupees, quantities are units (lots x lot size), times are aware.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import EXCHANGE_OF, Exchange, Underlying
from shared_utils.models.common import Product

Price = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class BrokerName(StrEnum):
    ZERODHA = "ZERODHA"
    ANGEL_ONE = "ANGEL_ONE"
    FINVASIA = "FINVASIA"
    PAPER = "PAPER"
    # Known brokers without an adapter yet: configuring one is an error, never paper trading.
    UPSTOX = "UPSTOX"
    DHAN = "DHAN"
    FYERS = "FYERS"


class DerivativesExchange(StrEnum):
    NFO = "NFO"  # NSE futures and options
    BFO = "BFO"  # BSE futures and options


DERIVATIVES_SEGMENT: dict[Exchange, DerivativesExchange] = {
    Exchange.NSE: DerivativesExchange.NFO,
    Exchange.BSE: DerivativesExchange.BFO,
}


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class OrderState(StrEnum):
    PENDING = "PENDING"  # accepted by the broker, not yet open at the exchange
    OPEN = "OPEN"  # resting at the exchange (possibly partly filled)
    COMPLETE = "COMPLETE"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in (OrderState.COMPLETE, OrderState.REJECTED, OrderState.CANCELLED)


def _plain_number(value: Decimal) -> int | float:
    """JSON's form of a strike: 26050, or 26050.5; never the exponent form (`2.605E+4`) a
    normalised Decimal would otherwise serialise as."""
    return int(value) if value == value.to_integral_value() else float(value)


Strike = Annotated[
    Decimal,
    Field(gt=0, max_digits=10, decimal_places=2),
    PlainSerializer(_plain_number, return_type=float, when_used="json"),
]


class OptionInstrument(BaseModel):
    """One index option contract. `monthly` marks the month's last expiry (symbol formats differ)."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    expiry: date
    strike: Strike
    option_type: OptionType
    monthly: bool = False

    @property
    def exchange(self) -> DerivativesExchange:
        return DERIVATIVES_SEGMENT[EXCHANGE_OF[self.underlying]]

    @property
    def key(self) -> str:
        """Broker-neutral identity, e.g. `NIFTY|2026-11-26|24000|CE` (positions and quotes use it)."""
        strike = format(self.strike.normalize(), "f")
        return f"{self.underlying.value}|{self.expiry.isoformat()}|{strike}|{self.option_type.value}"

    @classmethod
    def from_key(cls, key: str) -> OptionInstrument:
        """The contract a `key` names (`monthly` is not part of the key: False)."""
        underlying, expiry, strike, option_type = key.split("|")
        return cls(
            underlying=Underlying(underlying),
            expiry=date.fromisoformat(expiry),
            strike=Decimal(strike),
            option_type=OptionType(option_type),
        )


class OrderRequest(BaseModel):
    """One order (one slice of one leg for one broker account).

    The contract is an `instrument` (formatted into each broker's symbol), or the broker's own
    `tradingsymbol` with its `segment`, as `positions()` reports it (square-off of a position
    the platform did not open). With both, `tradingsymbol` is sent as is.
    """

    model_config = ConfigDict(frozen=True)

    order_key: str = Field(min_length=1, max_length=256, description="deterministic ledger key")
    tag: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$", description="broker tag")
    instrument: OptionInstrument | None = None
    tradingsymbol: str | None = Field(default=None, min_length=1, max_length=64)
    segment: DerivativesExchange | None = None
    side: Action
    quantity: int = Field(gt=0, description="units, not lots")
    order_type: OrderType = OrderType.MARKET
    price: Price | None = None
    product: Product = Product.NRML

    @model_validator(mode="after")
    def _price_matches_type(self) -> Self:
        if self.instrument is None and (self.tradingsymbol is None or self.segment is None):
            raise ValueError("an order needs an instrument, or a tradingsymbol with its segment")
        if self.order_type is OrderType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError("a LIMIT order needs a positive price")
        if self.order_type is OrderType.MARKET and self.price is not None:
            raise ValueError("a MARKET order carries no price")
        return self

    @property
    def exchange(self) -> DerivativesExchange:
        if self.instrument is not None:
            return self.instrument.exchange
        assert self.segment is not None  # guaranteed by the validator
        return self.segment

    def symbol_for(self, formatter: Callable[[OptionInstrument], str]) -> str:
        """The symbol to send: the given `tradingsymbol`, else the instrument in the broker's format."""
        if self.tradingsymbol is not None:
            return self.tradingsymbol
        assert self.instrument is not None  # guaranteed by the validator
        return formatter(self.instrument)


class OrderResult(BaseModel):
    """The broker's view of one order. `tag` is echoed so reconciliation can match ledger rows."""

    model_config = ConfigDict(frozen=True)

    broker: BrokerName
    broker_order_id: str = Field(min_length=1)
    tag: str | None = None
    status: OrderState
    quantity: int = Field(ge=0)
    filled_quantity: int = Field(ge=0, default=0)
    average_price: Price | None = None
    reason: str | None = None
    updated_at: AwareDatetime | None = None


# The status of an order is the same shape as the result of placing it.
OrderStatus = OrderResult


class Position(BaseModel):
    """Net position in one contract; quantity > 0 long, < 0 short (units)."""

    model_config = ConfigDict(frozen=True)

    broker: BrokerName
    tradingsymbol: str
    exchange: DerivativesExchange
    product: Product
    quantity: int
    average_price: Price | None = None
    realised_pnl: Decimal = Decimal("0")
    last_price: Price | None = None
    instrument: OptionInstrument | None = None
