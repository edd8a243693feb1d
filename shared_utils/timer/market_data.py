"""RefreshMarketData: each minute, fetch what the minute needs from the configured source and
cache it for 300 seconds (`QuoteCache`).

What the minute needs, in two requests to the source:
1. every supported index level (planning, the paper fills and the stop-loss check price from the
   cache and from nothing else);
2. for a source that quotes contracts: the chains (ATM ± `strikes_each_side` strike steps around
   the level just fetched, calls and puts) of every listed expiry kind of the underlyings of
   strategies due in the look-ahead and of the day's armed entries (a re-entry or a
   wait-and-trade leg is planned on a chain when it comes due), every contract held in an open
   position, and every contract an armed entry watches (its premium decides when it is due).

The simulated source quotes index levels only: with it, premiums are modelled on the level
(`SimulatedOptionMarket`), so no contract is requested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, NonNegativeInt

from shared_utils.brokers.models import OptionInstrument
from shared_utils.execution.armed import ArmedEntry
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import expiry_for, listed_expiries, valid_kinds
from shared_utils.market.options import OptionType
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import MarketDataSource, Quote, QuoteRequest
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.triggers import DueSchedule

logger = Logger(child=True)

LOOKAHEAD = timedelta(minutes=5)
QUOTES_DROPPED_METRIC = "MarketQuotesDropped"


class RefreshReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    indices: NonNegativeInt
    contracts: NonNegativeInt
    cached: NonNegativeInt
    dropped: NonNegativeInt
    source_requests: NonNegativeInt


class OpenContracts(Protocol):
    def open_contracts(self) -> set[OptionInstrument]:
        """Every contract held in an open position."""
        ...


class ArmedEntries(Protocol):
    def armed_entries(self, trade_date: date) -> list[ArmedEntry]:
        """The day's re-entries and wait-and-trade legs waiting for their condition."""
        ...


@dataclass(frozen=True)
class ContractPlan:
    """How the refresh picks contracts, for a source that quotes them."""

    open_contracts: OpenContracts
    calendar: Callable[[], TradingCalendar]
    strikes_each_side: int
    specs: SpecTable | None = None
    armed: ArmedEntries | None = None

    def chain_contracts(
        self, underlying: Underlying, trade_date: date, level: Decimal
    ) -> set[OptionInstrument]:
        """ATM ± strikes_each_side around `level`, calls and puts, of each listed expiry kind."""
        calendar = self.calendar()
        table = self.specs or default_specs()
        listed = {e.expiry: e for e in listed_expiries(underlying, trade_date, calendar, table)}
        wanted = {
            expiry_for(underlying, trade_date, kind, calendar, table)
            for kind in valid_kinds(underlying, trade_date, table)
        }
        contracts: set[OptionInstrument] = set()
        for expiry in sorted(wanted):
            step = Decimal(str(table.spec_for(underlying, expiry).strike_step))
            atm = (level / step).to_integral_value() * step
            for offset in range(-self.strikes_each_side, self.strikes_each_side + 1):
                strike = atm + offset * step
                if strike <= 0:
                    continue
                for option_type in OptionType:
                    contracts.add(
                        OptionInstrument(
                            underlying=underlying,
                            expiry=expiry,
                            strike=strike.normalize(),
                            option_type=option_type,
                            monthly=listed[expiry].monthly,
                        )
                    )
        return contracts


def due_underlyings(tick: datetime, schedule: DueSchedule) -> set[Underlying]:
    return {Underlying(entry.underlying) for entry in schedule.due_schedule_entries(tick, tick + LOOKAHEAD)}


def refresh_market_data(
    envelope: TimerEnvelope,
    schedule: DueSchedule,
    source: MarketDataSource,
    cache: QuoteCache,
    now: datetime,
    contracts: ContractPlan | None = None,
) -> RefreshReport:
    tick = envelope.tick
    first = source.quotes(QuoteRequest(indices=list(Underlying)), now)
    cached = cache.put(first.quotes, now)
    dropped, requests, wanted = first.dropped, first.requests, 0
    if contracts is not None:
        levels = _levels(first.quotes)
        trade_date = envelope.trade_date
        wanted_contracts = set(contracts.open_contracts.open_contracts())
        underlyings = due_underlyings(tick, schedule)
        for armed in contracts.armed.armed_entries(trade_date) if contracts.armed is not None else []:
            watched = {c.instrument for c in armed.watched}
            wanted_contracts |= watched
            underlyings |= {Underlying(instrument.underlying) for instrument in watched}
        for underlying in sorted(underlyings):
            level = levels.get(underlying.value)
            if level is None:
                continue  # no level, no chain: its entries record "no fresh quote"
            wanted_contracts |= contracts.chain_contracts(underlying, trade_date, level)
        if wanted_contracts:
            ordered = sorted(wanted_contracts, key=lambda c: c.key)
            second = source.quotes(QuoteRequest(contracts=ordered), now)
            cached += cache.put(second.quotes, now)
            dropped, requests, wanted = dropped + second.dropped, requests + second.requests, len(ordered)
    report = RefreshReport(
        tick=tick,
        indices=len(Underlying),
        contracts=wanted,
        cached=cached,
        dropped=dropped,
        source_requests=requests,
    )
    logger.info("Market data refreshed", extra=report.model_dump(mode="json"))
    return report


def _levels(quotes: Iterable[Quote]) -> dict[str, Decimal]:
    return {quote.instrument: quote.last_price for quote in quotes}
