"""The market-data port: what the minute's refresh asks a source for, and the one quote model
every source maps its answer into.

An instrument is named broker-neutrally: an index by its `Underlying` value (`NIFTY`), a contract
by `OptionInstrument.key` (`NIFTY|2026-11-26|24000|CE`). A source drops, and counts, what it
cannot trust (a price at or below zero, a timestamp in the future); it never invents a quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

from shared_utils.brokers.models import OptionInstrument
from shared_utils.market.underlyings import Underlying


class Quote(BaseModel):
    """One instrument's latest trade and best prices, stamped with the exchange's time."""

    model_config = ConfigDict(frozen=True)

    instrument: str = Field(min_length=1)
    last_price: Decimal = Field(gt=0)
    as_of: AwareDatetime = Field(description="the exchange's timestamp of the quote")
    bid: Decimal | None = Field(default=None, ge=0)
    ask: Decimal | None = Field(default=None, ge=0)
    volume: NonNegativeInt | None = None
    open_interest: NonNegativeInt | None = None


class QuoteRequest(BaseModel):
    """The instruments one refresh needs: index levels and option contracts."""

    model_config = ConfigDict(frozen=True)

    indices: list[Underlying] = Field(default_factory=list)
    contracts: list[OptionInstrument] = Field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.indices) + len(self.contracts)


class QuoteBatch(BaseModel):
    """A source's answer: the quotes it trusts, and how many it dropped (counted and alarmed)."""

    model_config = ConfigDict(frozen=True)

    quotes: list[Quote] = Field(default_factory=list)
    dropped: NonNegativeInt = 0
    requests: NonNegativeInt = Field(default=0, description="calls made to the source")


class MarketDataSource(Protocol):
    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        """Quotes of the requested instruments (missing ones are simply absent); raises
        `MarketDataUnavailableError` when the source cannot be reached or refuses."""
        ...


# The exchange's clock and this process's may disagree by a moment: a quote stamped up to this
# far after `at` is taken as current; beyond it, the timestamp (or a clock) is wrong.
CLOCK_SKEW_ALLOWANCE = timedelta(seconds=5)


def trusted(quote: Quote, at: datetime) -> bool:
    """Not stamped in the future (beyond the clocks' allowed disagreement)."""
    return quote.as_of <= at + CLOCK_SKEW_ALLOWANCE


def fresh(quote: Quote, at: datetime, max_age: timedelta) -> bool:
    """Trusted, and quoted no longer than `max_age` before `at`."""
    return trusted(quote, at) and at - quote.as_of <= max_age


def keep_trusted(quotes: Sequence[Quote], at: datetime, dropped: int = 0, requests: int = 0) -> QuoteBatch:
    kept = [quote for quote in quotes if trusted(quote, at)]
    return QuoteBatch(quotes=kept, dropped=dropped + len(quotes) - len(kept), requests=requests)
