"""The morning's symbol books: each broker's instrument master, downloaded at the timer's daily
start and kept whole or not at all (`market_data.listing.problems`, against the broker's book
of the day before). A broker whose download fails or is rejected keeps yesterday's book, which
still lists every contract of the expiries it names; its orders for a new expiry are refused
unsent until a download lands. Each broker is independent: one failing spoils no other."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, NonNegativeInt

from shared_utils.brokers.models import BrokerName
from shared_utils.errors import DomainError
from shared_utils.market_data.listing import ListedContract, problems, summarize
from shared_utils.market_data.symbol_book import SymbolBookStore

logger = Logger(child=True)

SYMBOL_BOOK_REJECTED_METRIC = "SymbolBookRejected"


class InstrumentMaster(Protocol):
    def listed_contracts(self) -> list[ListedContract]:
        """Every index option the broker lists; raises `MarketDataUnavailableError` on failure."""
        ...


class BookReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    broker: BrokerName
    accepted: bool
    contracts: NonNegativeInt = 0
    problems: list[str] = []


def refresh_symbol_books(
    masters: Mapping[BrokerName, InstrumentMaster], store: SymbolBookStore, trade_date: date
) -> list[BookReport]:
    return [_refresh(broker, master, store, trade_date) for broker, master in masters.items()]


def _refresh(
    broker: BrokerName, master: InstrumentMaster, store: SymbolBookStore, trade_date: date
) -> BookReport:
    try:
        contracts = master.listed_contracts()
        summary = summarize(contracts, trade_date, broker.value)
        found = problems(summary, store.header(broker))
        if not found:
            store.replace(broker, contracts, summary)
    except DomainError as error:
        found = [f"{error.code}: {error.message}"]
    if found:
        logger.error(
            "Symbol book not replaced: yesterday's stays", extra={"broker": broker.value, "problems": found}
        )
        return BookReport(broker=broker, accepted=False, problems=found)
    logger.info("Symbol book replaced", extra={"broker": broker.value, "contracts": summary.contracts})
    return BookReport(broker=broker, accepted=True, contracts=summary.contracts)
