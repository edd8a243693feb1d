"""The morning's instrument master: downloaded at the timer's daily start, accepted only whole
(`market_data.listing.problems`), then checked against the effective-dated rules of
`shared_utils/market`: an expiry moved by an ad-hoc holiday or a revised lot shows up as a
disagreement (logged, counted, alarmed), and the listing is what the day trades on."""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, NonNegativeInt

from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import listed_expiries
from shared_utils.market.specs import SpecTable, default_specs
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
    listing = summarize(source.listed_contracts(), trade_date, source_name)
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
    disagreements = cross_check(listing, calendar, specs)
    for line in disagreements:
        logger.warning("The listing disagrees with the rules; the listing wins", extra={"disagreement": line})
    return ListingReport(
        trade_date=trade_date,
        source=source_name,
        accepted=True,
        contracts=listing.contracts,
        disagreements=disagreements,
    )


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
