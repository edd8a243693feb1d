"""What every market-data adapter does with a source's answer: map it into a `Quote` or refuse to
trust it, and turn a failed call into one `MarketDataUnavailableError` whose message names the
source and the cause (the refresh's alarm reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import requests
from pydantic import ValidationError

from shared_utils.brokers._common import to_decimal
from shared_utils.brokers.port import BrokerAuthError, BrokerError, BrokerRateLimitedError
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market_data.models import Quote


@dataclass(frozen=True)
class Wanted:
    """What a source's name for an instrument stands for."""

    instrument: str  # the broker-neutral name a Quote carries
    index: bool  # an index has no depth, volume or open interest


def positive_price(value: object) -> Decimal | None:
    """A price, or None where the source sends nothing or 0 for an empty side."""
    price = to_decimal(value)
    return price if price is not None and price > 0 else None


def best_price(depth: object, side: str) -> Decimal | None:
    """The best price of one side of a `{"buy": [{"price": ...}], "sell": [...]}` book."""
    levels = depth.get(side) if isinstance(depth, Mapping) else None
    if not isinstance(levels, list) or not levels or not isinstance(levels[0], Mapping):
        return None
    return positive_price(levels[0].get("price"))


def to_quote(
    wanted: Wanted,
    price: Decimal | None,
    as_of: datetime | None,
    *,
    bid: Decimal | None = None,
    ask: Decimal | None = None,
    volume: object = None,
    open_interest: object = None,
) -> Quote | None:
    """The answer as a Quote, or None when it cannot be trusted (no price, no time, invalid).
    An index keeps only its price and time, whatever else the source sends (often zeros)."""
    if price is None or price <= 0 or as_of is None:
        return None
    book = {} if wanted.index else {"bid": bid, "ask": ask, "volume": volume, "open_interest": open_interest}
    try:
        return Quote(instrument=wanted.instrument, last_price=price, as_of=as_of, **book)
    except ValidationError:
        return None


def broker_cause(error: Exception) -> str:
    """The cause of a failed call made through the brokers' HTTP session."""
    if isinstance(error, BrokerAuthError):
        return "token or permission refused"
    if isinstance(error, BrokerRateLimitedError):
        return "rate limited"
    if isinstance(error, BrokerError | requests.RequestException):
        return "unavailable"  # 5xx, timeout, refused or dropped connection, unreadable body
    return "malformed answer"


def unavailable(source: str, error: Exception, cause: str | None = None) -> MarketDataUnavailableError:
    """One error for every way a call fails: `{source}: {cause}: {detail}`."""
    if isinstance(error, BrokerError):  # "ZERODHA: HTTP 429" -> "HTTP 429"
        detail = error.message.split(": ", 1)[-1]
    else:
        detail = str(error) or type(error).__name__
    return MarketDataUnavailableError(message=f"{source}: {cause or broker_cause(error)}: {detail}")
