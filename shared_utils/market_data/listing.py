"""The exchange's listing (the instrument master of the market-data source), as the platform keeps
it: per supported index, the listed expiries, each expiry's lot size, strike step and number of
contracts, and the tick size.

A download is accepted only whole: an empty or unreadable master, one that lists no contract of
an index listed yesterday, or one that lost more than `MAX_LOST_SHARE` of yesterday's contracts
that are still live is rejected, and yesterday's listing stays (a peer platform deleted its symbol
table before checking the download and traded blind).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from shared_utils.market.expiries import ExpiryKind
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying

MAX_LOST_SHARE = 0.2


class ListedContract(BaseModel):
    """One option contract as the source lists it."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    expiry: date
    strike: Decimal = Field(gt=0)
    option_type: OptionType
    lot_size: PositiveInt
    tick_size: Decimal = Field(gt=0)
    tradingsymbol: str = Field(min_length=1)
    token: str = Field(min_length=1)


class ExpiryListing(BaseModel):
    model_config = ConfigDict(frozen=True)

    expiry: date
    lot_size: PositiveInt
    strike_step: Decimal = Field(gt=0, description="the smallest gap between listed strikes")
    contracts: PositiveInt


class IndexListing(BaseModel):
    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    tick_size: Decimal = Field(gt=0)
    expiries: list[ExpiryListing] = Field(min_length=1)

    def expiry(self, day: date) -> ExpiryListing | None:
        return next((e for e in self.expiries if e.expiry == day), None)

    @property
    def expiry_dates(self) -> list[date]:
        return [e.expiry for e in self.expiries]

    def is_monthly(self, day: date) -> bool:
        """The month's last listed expiry is its monthly contract (symbol formats differ)."""
        return day == max(d for d in self.expiry_dates if (d.year, d.month) == (day.year, day.month))

    def of_kind(self, kind: ExpiryKind, trade_date: date) -> ExpiryListing | None:
        """The listed expiry a strategy's expiry kind means on `trade_date`: the first or second
        live expiry for the weekly kinds, the first or second monthly one for the monthly kinds."""
        live = [e for e in self.expiries if e.expiry >= trade_date]
        if kind in (ExpiryKind.CURRENT_MONTHLY, ExpiryKind.NEXT_MONTHLY):
            live = [e for e in live if self.is_monthly(e.expiry)]
        wanted = 0 if kind in (ExpiryKind.CURRENT_WEEKLY, ExpiryKind.CURRENT_MONTHLY) else 1
        return live[wanted] if len(live) > wanted else None


class InstrumentListing(BaseModel):
    """The whole listing of one trade date, from one source."""

    model_config = ConfigDict(frozen=True)

    trade_date: date
    source: str
    indices: dict[Underlying, IndexListing]

    @property
    def contracts(self) -> int:
        return sum(e.contracts for index in self.indices.values() for e in index.expiries)


def summarize(contracts: Iterable[ListedContract], trade_date: date, source: str) -> InstrumentListing:
    """Per index and expiry (expired ones left out): the lot size most contracts carry, the
    smallest strike gap, the count."""
    by_expiry: dict[tuple[Underlying, date], list[ListedContract]] = defaultdict(list)
    for contract in contracts:
        if contract.expiry >= trade_date:
            by_expiry[(contract.underlying, contract.expiry)].append(contract)
    indices: dict[Underlying, list[ExpiryListing]] = defaultdict(list)
    ticks: dict[Underlying, Counter[Decimal]] = defaultdict(Counter)
    for (underlying, expiry), listed in sorted(by_expiry.items()):
        strikes = sorted({c.strike for c in listed})
        gaps = [b - a for a, b in pairwise(strikes)]
        lots = Counter(c.lot_size for c in listed)
        ticks[underlying].update(c.tick_size for c in listed)
        indices[underlying].append(
            ExpiryListing(
                expiry=expiry,
                lot_size=lots.most_common(1)[0][0],
                strike_step=min(gaps) if gaps else strikes[0],
                contracts=len(listed),
            )
        )
    return InstrumentListing(
        trade_date=trade_date,
        source=source,
        indices={
            u: IndexListing(underlying=u, tick_size=ticks[u].most_common(1)[0][0], expiries=expiries)
            for u, expiries in indices.items()
        },
    )


def problems(new: InstrumentListing, previous: InstrumentListing | None) -> list[str]:
    """Why `new` must not replace `previous` (empty: accept it)."""
    if not new.indices:
        return ["the instrument master lists no contract of a supported index"]
    if previous is None:
        return []
    found: list[str] = []
    for underlying, before in previous.indices.items():
        live = {e.expiry: e.contracts for e in before.expiries if e.expiry >= new.trade_date}
        if not live:
            continue
        now = new.indices.get(underlying)
        if now is None:
            found.append(f"{underlying.value}: listed yesterday, missing today")
            continue
        lost = 0
        for day, count in live.items():
            listed = now.expiry(day)
            lost += max(0, count - (listed.contracts if listed is not None else 0))
        share = lost / sum(live.values())
        if share > MAX_LOST_SHARE:
            found.append(
                f"{underlying.value}: {lost} of yesterday's {sum(live.values())} live contracts are "
                f"missing ({share:.0%} > {MAX_LOST_SHARE:.0%})"
            )
    return found
