"""The protection prices of MARKET orders (`brokers/protection.py`), read from the quote cache.

A contract's last price counts only while fresh (`models.fresh`: quoted no longer than `max_age`
before `now`, and not stamped in the future); a missing, expired or stale quote is None and the
order is not sent. A cache that cannot be read raises `MarketDataUnavailableError`, which the
protection wrapper turns into the same refusal: no price, nothing sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market_data.models import Quote, fresh


class ContractQuotes(Protocol):
    def contract(self, instrument: OptionInstrument, now: datetime) -> Quote | None:
        """The cached, unexpired quote of one contract, or None (`QuoteCache.contract`)."""
        ...


class CachedProtectionPrices:
    """`ProtectionPrices` over the quote cache: one consistent read per order, no memo (an order
    is priced from the newest quote the minute's refresh has written)."""

    def __init__(self, cache: ContractQuotes) -> None:
        self._cache = cache

    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        try:
            quote = self._cache.contract(instrument, now)
        except (ClientError, BotoCoreError) as error:
            raise MarketDataUnavailableError(
                f"the quote cache could not be read for {instrument.key}: {type(error).__name__}"
            ) from error
        if quote is None or not fresh(quote, now, max_age):
            return None
        return quote.last_price
