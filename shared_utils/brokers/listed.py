"""Orders carry the symbol their broker lists, not one formatted from rules.

Symbol formats change without notice (BSE weeklies, a new NSE weekly scheme) and some brokers
address contracts only by their own token (Angel One, Upstox, Dhan, Shoonya). Each morning the
platform keeps every broker's instrument master as a symbol book (`market_data/symbol_book.py`);
`ListedSymbolBroker` puts the book's symbol on each order before it reaches the adapter:

- the broker has a book and lists the contract: its trading symbol is sent;
- the broker has a book that does not list it: the order is refused unsent (the broker would
  refuse it too, or worse, match another contract), a definitive `BrokerRejectedError`;
- the broker has no book (not downloaded for it): the rules' symbol is sent, as before, and the
  morning's symbol check is what vouches for it.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.brokers.models import (
    BrokerName,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.port import Broker, BrokerRejectedError

NOT_LISTED_REASON = "contract not in the broker's instrument master"


class ListedSymbol(BaseModel):
    model_config = ConfigDict(frozen=True)

    tradingsymbol: str = Field(min_length=1)
    token: str = Field(min_length=1)


class ContractNotListed(Exception):
    """The broker's book is there and does not list the contract."""


class SymbolBook(Protocol):
    def resolve(self, broker: BrokerName, instrument: OptionInstrument) -> ListedSymbol | None:
        """The listed symbol; None when `broker` has no book. Raises `ContractNotListed`."""
        ...

    def token(self, broker: BrokerName, exchange: str, tradingsymbol: str) -> str | None:
        """The broker's token of a listed symbol (the adapters that address contracts by token)."""
        ...


class ListedSymbolBroker:
    def __init__(self, inner: Broker, book: SymbolBook) -> None:
        self._inner = inner
        self._book = book

    @property
    def name(self) -> BrokerName:
        return self._inner.name

    @property
    def inner(self) -> Broker:
        return self._inner

    def place(self, order: OrderRequest) -> OrderResult:
        return self._inner.place(self.listed(order))

    def listed(self, order: OrderRequest) -> OrderRequest:
        """`order` with its broker's listed symbol (unchanged when it names one already)."""
        if order.tradingsymbol is not None or order.instrument is None:
            return order
        try:
            found = self._book.resolve(self.name, order.instrument)
        except ContractNotListed:
            message = f"{order.instrument.key} is not listed at {self.name.value}"
            raise BrokerRejectedError(
                message=message, broker=self.name.value, reason=f"{NOT_LISTED_REASON}: {message}"
            ) from None
        if found is None:
            return order
        return order.model_copy(update={"tradingsymbol": found.tradingsymbol, "segment": order.exchange})

    def cancel(self, broker_order_id: str) -> OrderResult:
        return self._inner.cancel(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        return self._inner.order_status(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self._inner.find_order_by_tag(tag)

    def positions(self) -> list[Position]:
        return self._inner.positions()
