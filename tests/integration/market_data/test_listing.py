"""The morning's instrument master: Kite's dump read through the SDK from a stub on loopback,
accepted only whole (an empty, truncated or shrunken download keeps yesterday's listing), and
checked against the rules (a moved expiry, a revised lot)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.clock import FixedClock
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import listed_expiries
from shared_utils.market.options import OptionType
from shared_utils.market.specs import spec_for
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.kite import KiteMarketData
from shared_utils.market_data.listing import ListedContract
from shared_utils.market_data.listing_store import CurrentListing, ListingStore
from shared_utils.timer.listing import refresh_listing
from tests.integration.brokers.stub_kite import ACCESS_TOKEN, API_KEY, KiteStub
from tests.integration.brokers.stub_server import StubHttpServer

YESTERDAY, TODAY = date(2026, 11, 24), date(2026, 11, 25)
HEADER = [
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
]
STRIKES_EACH_SIDE = 10


def rows(
    underlying: str, trade_date: date, *, lot: int | None = None, skip: set[date] = frozenset()
) -> list[dict[str, Any]]:
    """The rules' expiries of `underlying` listed as Kite would: ATM ± 10 strikes, CE and PE."""
    spec = spec_for(underlying, trade_date)
    centre = {"NIFTY": 26000, "SENSEX": 85000}[underlying]
    segment = "NFO" if spec.exchange.value == "NSE" else "BFO"
    found = []
    for expiry in listed_expiries(underlying, trade_date, TradingCalendar.default()):
        if expiry.expiry in skip:
            continue
        for offset in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1):
            strike = centre + offset * int(spec.strike_step)
            for kind in ("CE", "PE"):
                token = len(found) + 1000
                contract = OptionInstrument(
                    underlying=Underlying(underlying),
                    expiry=expiry.expiry,
                    strike=Decimal(strike),
                    option_type=OptionType(kind),
                    monthly=expiry.monthly,
                )
                found.append(
                    {
                        "instrument_token": token,
                        "exchange_token": token // 256,
                        "tradingsymbol": kite_symbols.tradingsymbol(contract),
                        "name": underlying,
                        "last_price": 0,
                        "expiry": expiry.expiry.isoformat(),
                        "strike": strike,
                        "tick_size": 0.05,
                        "lot_size": lot or spec.lot_size,
                        "instrument_type": kind,
                        "segment": f"{segment}-OPT",
                        "exchange": segment,
                    }
                )
    return found


def dump(*groups: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER)
    writer.writeheader()
    for group in groups:
        writer.writerows(group)
    return out.getvalue()


OTHERS = [  # a stock option and an index future: not index options, skipped
    {**rows("NIFTY", TODAY)[0], "name": "RELIANCE", "tradingsymbol": "RELIANCE26DEC1500CE"},
    {**rows("NIFTY", TODAY)[0], "instrument_type": "FUT", "tradingsymbol": "NIFTY26DECFUT", "strike": 0},
]


@pytest.fixture
def kite() -> Iterator[tuple[KiteStub, KiteMarketData]]:
    stub = KiteStub()
    with StubHttpServer(stub) as server:
        credentials = BrokerCredentials(api_key=SecretStr(API_KEY), access_token=SecretStr(ACCESS_TOKEN))
        yield (
            stub,
            KiteMarketData(
                credentials, BrokerEndpoint(base_url=server.url, timeout_s=5), sleep=lambda _: None
            ),
        )


@pytest.fixture
def store(aws: dict[str, Any]) -> ListingStore:
    return ListingStore(aws["dynamodb"], aws["settings"].trading_table_name)


class Listed:
    """A source that already downloaded `contracts`; it names contracts as Zerodha orders do."""

    def __init__(self, contracts: list[ListedContract]) -> None:
        self.contracts = contracts

    def listed_contracts(self) -> list[ListedContract]:
        return self.contracts

    def tradingsymbol(self, contract: OptionInstrument) -> str:
        return kite_symbols.tradingsymbol(contract)


def listed(kite: KiteMarketData, stub: KiteStub, nfo: str, bfo: str | None = None) -> list[ListedContract]:
    stub.instruments = {"NFO": nfo, "BFO": bfo if bfo is not None else dump()}
    return kite.listed_contracts()


def test_the_dump_is_read_into_the_index_options_of_both_exchanges(
    kite: tuple[KiteStub, KiteMarketData],
) -> None:
    stub, source = kite
    contracts = listed(source, stub, dump(rows("NIFTY", TODAY), OTHERS), dump(rows("SENSEX", TODAY)))

    assert {c.underlying for c in contracts} == {Underlying.NIFTY, Underlying.SENSEX}
    assert len(contracts) == len(rows("NIFTY", TODAY)) + len(rows("SENSEX", TODAY))
    first = contracts[0]
    assert (first.lot_size, str(first.tick_size), first.token) == (65, "0.05", "1000")


def test_a_truncated_dump_fails_whole(kite: tuple[KiteStub, KiteMarketData]) -> None:
    stub, source = kite
    whole = dump(rows("NIFTY", TODAY))
    with pytest.raises(MarketDataUnavailableError, match="kite"):
        listed(source, stub, whole[: len(whole) // 2 - 7])  # cut inside a row


def test_a_bad_download_keeps_yesterdays_listing(
    kite: tuple[KiteStub, KiteMarketData], store: ListingStore
) -> None:
    stub, source = kite
    calendar = TradingCalendar.default()
    full = Listed(listed(source, stub, dump(rows("NIFTY", YESTERDAY)), dump(rows("SENSEX", YESTERDAY))))
    assert refresh_listing(full, "kite", store, YESTERDAY, calendar).accepted
    yesterday = store.current()
    assert yesterday is not None and yesterday.trade_date == YESTERDAY

    empty = refresh_listing(Listed([]), "kite", store, TODAY, calendar)
    no_sensex = refresh_listing(
        Listed([c for c in full.contracts if c.underlying is Underlying.NIFTY]),
        "kite",
        store,
        TODAY,
        calendar,
    )
    shrunk = refresh_listing(Listed(full.contracts[::2]), "kite", store, TODAY, calendar)

    assert not empty.accepted and "no contract" in empty.problems[0]
    assert not no_sensex.accepted and no_sensex.problems == ["SENSEX: listed yesterday, missing today"]
    assert not shrunk.accepted and all("missing" in line for line in shrunk.problems)
    assert store.current() == yesterday  # never half-written, never replaced by a bad download


def test_contracts_that_expired_yesterday_are_not_missing_today(
    kite: tuple[KiteStub, KiteMarketData], store: ListingStore
) -> None:
    stub, source = kite
    calendar = TradingCalendar.default()
    # NIFTY's weekly of 24 Nov expired yesterday: its contracts are gone today, which loses nothing.
    before = Listed(listed(source, stub, dump(rows("NIFTY", YESTERDAY)), dump(rows("SENSEX", YESTERDAY))))
    refresh_listing(before, "kite", store, YESTERDAY, calendar)
    today = Listed(listed(source, stub, dump(rows("NIFTY", TODAY)), dump(rows("SENSEX", TODAY))))

    report = refresh_listing(today, "kite", store, TODAY, calendar)

    assert report.accepted and report.problems == [] and report.disagreements == []
    current = store.current()
    assert current is not None and current.trade_date == TODAY


def test_a_moved_expiry_and_a_revised_lot_are_disagreements_and_the_listing_is_kept(
    kite: tuple[KiteStub, KiteMarketData], store: ListingStore
) -> None:
    stub, source = kite
    weekly = listed_expiries("NIFTY", TODAY, TradingCalendar.default())[0].expiry
    moved = [
        {**row, "expiry": date.fromordinal(weekly.toordinal() - 1).isoformat()}
        if row["expiry"] == weekly.isoformat()
        else row
        for row in rows("NIFTY", TODAY, lot=75)
    ]

    report = refresh_listing(
        Listed(listed(source, stub, dump(moved))), "kite", store, TODAY, TradingCalendar.default()
    )

    assert report.accepted
    assert (
        f"NIFTY: the rules expect an expiry on {weekly.isoformat()}, the exchange lists none"
        in report.disagreements
    )
    assert any("lot size 75 listed, 65 by the rules" in line for line in report.disagreements)
    current = store.current()
    assert current is not None and current.indices[Underlying.NIFTY].expiries[0].lot_size == 75


def test_planning_reads_the_listing_once_a_day_and_again_until_the_mornings_lands(
    kite: tuple[KiteStub, KiteMarketData], store: ListingStore
) -> None:
    stub, source = kite
    calendar = TradingCalendar.default()
    refresh_listing(
        Listed(listed(source, stub, dump(rows("NIFTY", YESTERDAY)))), "kite", store, YESTERDAY, calendar
    )
    clock = FixedClock(datetime(2026, 11, 25, 3, 25, tzinfo=UTC))  # 08:55 IST, before the download
    current = CurrentListing(store, clock)
    reads = 0
    original = store.current

    def counted() -> Any:
        nonlocal reads
        reads += 1
        return original()

    store.current = counted  # type: ignore[method-assign]

    assert current(TODAY).trade_date == YESTERDAY  # type: ignore[union-attr]
    assert current(TODAY).trade_date == YESTERDAY and reads == 1  # type: ignore[union-attr]
    refresh_listing(Listed(listed(source, stub, dump(rows("NIFTY", TODAY)))), "kite", store, TODAY, calendar)
    clock.set(clock.now() + timedelta(minutes=5))
    assert current(TODAY).trade_date == TODAY  # type: ignore[union-attr]
    clock.set(clock.now() + timedelta(hours=1))
    current(TODAY)
    assert reads == 3  # (one was the download's own check) today's is held: no more reads


def test_a_listed_symbol_the_orders_would_not_send_is_a_disagreement(
    kite: tuple[KiteStub, KiteMarketData], store: ListingStore
) -> None:
    stub, source = kite
    weekly = listed_expiries("SENSEX", TODAY, TradingCalendar.default())[1].expiry
    # BSE weeklies under another scheme than NFO's (what the rules assume): every order on them
    # would be rejected, so the morning says so.
    renamed = [
        {
            **row,
            "tradingsymbol": f"SENSEX{weekly:%d%b%y}".upper() + f"{row['strike']}{row['instrument_type']}",
        }
        if row["expiry"] == weekly.isoformat()
        else row
        for row in rows("SENSEX", TODAY)
    ]

    report = refresh_listing(
        Listed(listed(source, stub, dump(), dump(renamed))), "kite", store, TODAY, TradingCalendar.default()
    )

    (line,) = report.disagreements
    assert line.startswith(f"SENSEX: {2 * (2 * STRIKES_EACH_SIDE + 1)} listed symbols differ")
