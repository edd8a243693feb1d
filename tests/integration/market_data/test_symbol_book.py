"""Each broker's symbol book: kept whole from the morning's master, and what orders send.

The book's symbols are deliberately not the rules' format (a new weekly scheme, as BSE had):
an order must reach the stub broker with the listed symbol and token, a contract the book
does not list must be refused before anything is sent, and a broker without a book keeps
the rules' symbol."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.listed import ContractNotListed
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderRequest
from shared_utils.brokers.port import BrokerRejectedError
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.clock import FixedClock
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import ListedContract
from shared_utils.market_data.symbol_book import SymbolBooks, SymbolBookStore
from shared_utils.timer.symbol_books import refresh_symbol_books
from tests.integration.brokers import stub_angel, stub_kite
from tests.integration.brokers.stub_server import StubHttpServer

TODAY = date(2026, 11, 24)
WEEKLY, MONTHLY = date(2026, 11, 24), date(2026, 11, 26)
SENSEX_WEEKLY = date(2026, 11, 26)
MORNING = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
STRIKES = (23900, 24000, 24100)


def contract(
    strike: int, option_type: OptionType, expiry: date = WEEKLY, underlying: Underlying = Underlying.NIFTY
) -> ListedContract:
    return ListedContract(
        underlying=underlying,
        expiry=expiry,
        strike=Decimal(strike),
        option_type=option_type,
        lot_size=75 if underlying is Underlying.NIFTY else 20,
        tick_size=Decimal("0.05"),
        # Not the rules' format: the order must carry this one.
        tradingsymbol=f"LISTED-{underlying.value}-{expiry:%y%m%d}-{strike}{option_type.value}",
        token=f"{underlying.value[:2]}{expiry:%d}{strike}{option_type.value}",
    )


def master(expiries: tuple[date, ...] = (WEEKLY, MONTHLY)) -> list[ListedContract]:
    nifty = [contract(s, t, e) for e in expiries for s in STRIKES for t in OptionType]
    sensex = [contract(85000, t, SENSEX_WEEKLY, Underlying.SENSEX) for t in OptionType]
    return nifty + sensex


class Master:
    def __init__(self, contracts: list[ListedContract] | None = None, fails: bool = False) -> None:
        self.contracts = contracts or []
        self.fails = fails
        self.downloads = 0

    def listed_contracts(self) -> list[ListedContract]:
        self.downloads += 1
        if self.fails:
            raise MarketDataUnavailableError("scrip master: HTTP 503")
        return self.contracts


@pytest.fixture
def store(aws: dict[str, Any]) -> SymbolBookStore:
    return SymbolBookStore(aws["dynamodb"], aws["settings"].trading_table_name)


def nifty(
    strike: int = 24000, option_type: OptionType = OptionType.CE, expiry: date = WEEKLY
) -> OptionInstrument:
    return OptionInstrument(
        underlying=Underlying.NIFTY, expiry=expiry, strike=Decimal(strike), option_type=option_type
    )


def order(instrument: OptionInstrument, broker: BrokerName) -> OrderRequest:
    key = order_key(TODAY, "strat-1", "ENTRY", "acct-1", 1, 0)
    return OrderRequest(
        order_key=key, tag=broker_tag(key, broker), instrument=instrument, side=Action.SELL, quantity=75
    )


def test_the_morning_keeps_each_brokers_master_and_a_failing_one_spoils_no_other(
    store: SymbolBookStore,
) -> None:
    reports = refresh_symbol_books(
        {BrokerName.ANGEL_ONE: Master(master()), BrokerName.FINVASIA: Master(fails=True)}, store, TODAY
    )
    assert [(r.broker, r.accepted, r.contracts) for r in reports] == [
        (BrokerName.ANGEL_ONE, True, 14),
        (BrokerName.FINVASIA, False, 0),
    ]
    assert "HTTP 503" in reports[1].problems[0]
    books = SymbolBooks(store, FixedClock(MORNING))
    listed = books.resolve(BrokerName.ANGEL_ONE, nifty())
    assert listed is not None and listed.tradingsymbol == "LISTED-NIFTY-261124-24000CE"
    assert books.resolve(BrokerName.FINVASIA, nifty()) is None  # no book: the rules' symbol
    with pytest.raises(ContractNotListed):
        books.resolve(BrokerName.ANGEL_ONE, nifty(strike=24050))  # not a listed strike
    with pytest.raises(ContractNotListed):
        books.resolve(BrokerName.ANGEL_ONE, nifty(expiry=date(2026, 12, 1)))  # not a listed expiry


def test_a_shrunken_master_is_rejected_and_yesterdays_book_still_trades(store: SymbolBookStore) -> None:
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY - timedelta(days=1))
    # Today's download lost the monthly: far more than the share a day may lose.
    [report] = refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master((WEEKLY,)))}, store, TODAY)
    assert not report.accepted and "missing" in report.problems[0]
    header = store.header(BrokerName.ANGEL_ONE)
    assert header is not None and header.trade_date == TODAY - timedelta(days=1)
    books = SymbolBooks(store, FixedClock(MORNING))
    assert books.resolve(BrokerName.ANGEL_ONE, nifty(expiry=MONTHLY)) is not None


def test_an_empty_master_stores_nothing(store: SymbolBookStore) -> None:
    [report] = refresh_symbol_books({BrokerName.ANGEL_ONE: Master([])}, store, TODAY)
    assert not report.accepted
    assert store.header(BrokerName.ANGEL_ONE) is None


def test_a_warm_process_reads_the_mornings_book_once_it_lands(store: SymbolBookStore) -> None:
    clock = FixedClock(MORNING)
    books = SymbolBooks(store, clock)
    assert books.resolve(BrokerName.ANGEL_ONE, nifty()) is None  # before the download
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY)
    assert books.resolve(BrokerName.ANGEL_ONE, nifty()) is None  # held until the recheck
    clock.advance(timedelta(minutes=5))
    assert books.resolve(BrokerName.ANGEL_ONE, nifty()) is not None


def test_a_token_is_found_for_a_symbol_no_order_resolved(store: SymbolBookStore) -> None:
    """A square-off of a position read from the broker names its symbol only."""
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY)
    books = SymbolBooks(store, FixedClock(MORNING))
    assert books.token(BrokerName.ANGEL_ONE, "BFO", "LISTED-SENSEX-261126-85000PE") == "SE2685000PE"
    assert books.token(BrokerName.ANGEL_ONE, "NFO", "NIFTY-NOT-LISTED") is None


@pytest.fixture
def angel() -> Iterator[tuple[stub_angel.AngelStub, str]]:
    listed = {c.token: c.tradingsymbol for c in master()}
    with StubHttpServer(stub_angel.AngelStub(tokens=listed)) as server:
        yield server.stub, server.url


class FixedPrices:
    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        return Decimal("100")


def registry(
    books: SymbolBooks, urls: dict[BrokerName, str], credentials: dict[str, BrokerCredentials]
) -> BrokerRegistry:
    config = RegistryConfig(
        protection_prices=FixedPrices(),
        endpoints={name: BrokerEndpoint(base_url=url, timeout_s=2.0) for name, url in urls.items()},
        symbol_book=books,
        angel_one_tokens=lambda exchange, symbol: books.token(BrokerName.ANGEL_ONE, exchange, symbol),
    )
    return BrokerRegistry(StaticCredentialsProvider(credentials), FixedClock(MORNING), config=config)


ANGEL_CREDENTIALS = BrokerCredentials(
    api_key=SecretStr(stub_angel.API_KEY), access_token=SecretStr(stub_angel.JWT), user_id="A123"
)


def test_an_order_reaches_the_broker_with_the_listed_symbol_and_token(
    store: SymbolBookStore, angel: tuple[stub_angel.AngelStub, str]
) -> None:
    stub, url = angel
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY)
    books = SymbolBooks(store, FixedClock(MORNING))
    broker = registry(books, {BrokerName.ANGEL_ONE: url}, {"acct-1": ANGEL_CREDENTIALS}).broker_for(
        "acct-1", "ANGEL_ONE"
    )
    broker.place(order(nifty(), BrokerName.ANGEL_ONE))
    [sent] = stub.orders
    assert sent.symbol == "LISTED-NIFTY-261124-24000CE"
    # Angel One has no market protection: the SELL went as a LIMIT 2 % under the last price.
    assert (sent.order_type, sent.price) == ("LIMIT", 98.0)
    [request] = [r for r in stub.requests if r.path.endswith("placeOrder")]
    assert request.json()["symboltoken"] == "NI2424000CE"


def test_a_contract_the_book_does_not_list_is_refused_unsent(
    store: SymbolBookStore, angel: tuple[stub_angel.AngelStub, str]
) -> None:
    stub, url = angel
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY)
    books = SymbolBooks(store, FixedClock(MORNING))
    broker = registry(books, {BrokerName.ANGEL_ONE: url}, {"acct-1": ANGEL_CREDENTIALS}).broker_for(
        "acct-1", "ANGEL_ONE"
    )
    with pytest.raises(BrokerRejectedError) as refused:
        broker.place(order(nifty(strike=24050), BrokerName.ANGEL_ONE))
    assert "not in the broker's instrument master" in refused.value.reason
    assert stub.orders == [] and not [r for r in stub.requests if r.path.endswith("placeOrder")]


def test_a_broker_without_a_book_sends_the_rules_symbol(store: SymbolBookStore) -> None:
    refresh_symbol_books({BrokerName.ANGEL_ONE: Master(master())}, store, TODAY)
    books = SymbolBooks(store, FixedClock(MORNING))
    credentials = BrokerCredentials(
        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
    )
    with StubHttpServer(stub_kite.KiteStub()) as server:
        broker = registry(books, {BrokerName.ZERODHA: server.url}, {"z-1": credentials}).broker_for(
            "z-1", "ZERODHA"
        )
        broker.place(order(nifty(), BrokerName.ZERODHA))
        [sent] = server.stub.orders
    assert sent.symbol == kite_symbols.tradingsymbol(nifty())
