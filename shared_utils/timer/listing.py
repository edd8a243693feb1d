"""The morning's instrument master: downloaded at the timer's daily start, accepted only whole
(`market_data.listing.problems`), then checked against the effective-dated rules of
`shared_utils/market`: an expiry moved by an ad-hoc holiday, a revised lot, or a trading symbol
the platform would format differently (an order with it would be rejected) shows up as a
disagreement (logged, counted, alarmed), and the listing is what the day trades on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, NonNegativeInt

from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import listed_expiries
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import InstrumentListing, ListedContract, problems, summarize
from shared_utils.market_data.listing_store import ListingStore

logger = Logger(child=True)

LISTING_REJECTED_METRIC = "InstrumentMasterRejected"
LISTING_DISAGREEMENT_METRIC = "ListingDisagreements"


@runtime_checkable
class InstrumentSource(Protocol):
    def listed_contracts(self) -> list[ListedContract]:
        """Every index option the source lists; raises `MarketDataUnavailableError` when the
        download fails."""
        ...

    def tradingsymbol(self, contract: OptionInstrument) -> str:
        """The symbol the platform's orders give this contract at the source's broker."""
        ...


class DownloadedOnce:
    """The source's master read at most once a morning: it is both the listing and its broker's
    symbol book (`timer/symbol_books.py`). A failed download fails both, without a second try."""

    def __init__(self, source: InstrumentSource) -> None:
        self._source = source
        self._contracts: list[ListedContract] | None = None
        self._failure: MarketDataUnavailableError | None = None

    def listed_contracts(self) -> list[ListedContract]:
        if self._failure is not None:
            raise self._failure
        if self._contracts is None:
            try:
                self._contracts = self._source.listed_contracts()
            except MarketDataUnavailableError as error:
                self._failure = error
                raise
        return self._contracts

    def tradingsymbol(self, contract: OptionInstrument) -> str:
        return self._source.tradingsymbol(contract)


class ListingReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    trade_date: date
    source: str
    accepted: bool
    contracts: NonNegativeInt
    problems: list[str] = []
    disagreements: list[str] = []


def refresh_listing(
    source: InstrumentSource,
    source_name: str,
    store: ListingStore,
    trade_date: date,
    calendar: TradingCalendar,
    specs: SpecTable | None = None,
) -> ListingReport:
    contracts = source.listed_contracts()
    listing = summarize(contracts, trade_date, source_name)
    found = problems(listing, store.current())
    if found:
        logger.error("Instrument master rejected: yesterday's listing stays", extra={"problems": found})
        return ListingReport(
            trade_date=trade_date,
            source=source_name,
            accepted=False,
            contracts=listing.contracts,
            problems=found,
        )
    store.accept(listing)
    disagreements = cross_check(listing, calendar, specs) + symbol_check(source, contracts, listing)
    for line in disagreements:
        logger.warning("The listing disagrees with the rules; the listing wins", extra={"disagreement": line})
    return ListingReport(
        trade_date=trade_date,
        source=source_name,
        accepted=True,
        contracts=listing.contracts,
        disagreements=disagreements,
    )


def symbol_check(
    source: InstrumentSource, contracts: Sequence[ListedContract], listing: InstrumentListing, shown: int = 3
) -> list[str]:
    """Contracts whose listed symbol is not the one the platform's orders would send (a symbol
    format the rules got wrong, e.g. a new weekly scheme): per index, the count and a few
    examples. An order with such a symbol would be rejected at the broker."""
    wrong: dict[Underlying, list[str]] = defaultdict(list)
    for listed in contracts:
        index = listing.indices.get(listed.underlying)
        if index is None or index.expiry(listed.expiry) is None:
            continue  # expired, or not kept
        contract = OptionInstrument(
            underlying=listed.underlying,
            expiry=listed.expiry,
            strike=listed.strike,
            option_type=listed.option_type,
            monthly=index.is_monthly(listed.expiry),
        )
        ours = source.tradingsymbol(contract)
        if ours != listed.tradingsymbol:
            wrong[listed.underlying].append(f"{listed.tradingsymbol} (ours {ours})")
    return [
        f"{u.value}: {len(lines)} listed symbols differ from the platform's, e.g. {', '.join(lines[:shown])}"
        for u, lines in sorted(wrong.items())
    ]


def cross_check(
    listing: InstrumentListing, calendar: TradingCalendar, specs: SpecTable | None = None
) -> list[str]:
    """Where the rules and the listing differ, up to the rules' next monthly expiry: expiries
    one has and the other lacks, lot sizes and strike steps."""
    table = specs or default_specs()
    found: list[str] = []
    for underlying, index in sorted(listing.indices.items()):
        name = underlying.value
        expected = [e.expiry for e in listed_expiries(underlying, listing.trade_date, calendar, table)]
        if not expected:
            continue
        listed = [day for day in index.expiry_dates if day <= expected[-1]]
        for day in sorted(set(expected) - set(listed)):
            found.append(f"{name}: the rules expect an expiry on {day.isoformat()}, the exchange lists none")
        for day in sorted(set(listed) - set(expected)):
            found.append(f"{name}: the exchange lists an expiry on {day.isoformat()} the rules do not")
        for expiry in index.expiries:
            if expiry.expiry not in expected:
                continue
            spec = table.spec_for(underlying, expiry.expiry)
            if expiry.lot_size != spec.lot_size:
                found.append(
                    f"{name} {expiry.expiry.isoformat()}: lot size {expiry.lot_size} listed, "
                    f"{spec.lot_size} by the rules"
                )
            if float(expiry.strike_step) != float(spec.strike_step):
                found.append(
                    f"{name} {expiry.expiry.isoformat()}: strike step {expiry.strike_step} listed, "
                    f"{spec.strike_step} by the rules"
                )
    return found
