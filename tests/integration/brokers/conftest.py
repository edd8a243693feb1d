"""Each SDK adapter against a stub of its broker's REST API on 127.0.0.1 (port 0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_one import AngelOneBroker
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.finvasia import FinvasiaBroker
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderRequest, OrderType
from shared_utils.brokers.port import Broker
from shared_utils.brokers.symbols import angel_one as angel_symbols
from shared_utils.brokers.symbols import finvasia as noren_symbols
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.brokers.zerodha import ZerodhaBroker
from shared_utils.clock import FixedClock
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Action, OptionType
from tests.integration.brokers import stub_angel, stub_kite, stub_noren
from tests.integration.brokers.stub_server import BrokerStub, StubHttpServer

# Generous enough that a loaded 2-core machine (two test lanes) answers in time when it should;
# a stall is well past it.
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
CE = OptionInstrument(
    underlying=Underlying.NIFTY, expiry=date(2026, 11, 24), strike=Decimal(24000), option_type=OptionType.CE
)
PE = CE.model_copy(update={"option_type": OptionType.PE})
TOKENS = {CE: "43650", PE: "43651"}
STATIC_IP = "13.232.10.20"


@dataclass
class Venue:
    name: BrokerName
    stub: BrokerStub
    url: str
    symbol: Callable[[OptionInstrument], str]
    build: Callable[..., Broker]

    def order(
        self, leg: int = 1, side: Action = Action.BUY, quantity: int = 75, limit: str | None = None
    ) -> OrderRequest:
        key = order_key(date(2026, 11, 24), "strat-1", "ENTRY", f"{self.name.value}-1", leg, 0)
        return OrderRequest(
            order_key=key,
            tag=broker_tag(key, self.name),
            instrument=CE if leg % 2 else PE,
            side=side,
            quantity=quantity,
            order_type=OrderType.LIMIT if limit else OrderType.MARKET,
            price=Decimal(limit) if limit else None,
        )


def _clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 4, 0, tzinfo=UTC))


def _endpoint(url: str, timeout_s: float) -> BrokerEndpoint:
    return BrokerEndpoint(base_url=url, timeout_s=timeout_s, client_public_ip=STATIC_IP)


def _lookup(symbol: Callable[[OptionInstrument], str]) -> Callable[[str, str], str | None]:
    table = {("NFO", symbol(instrument)): token for instrument, token in TOKENS.items()}
    return lambda exchange, tradingsymbol: table.get((exchange, tradingsymbol))


def _zerodha(url: str) -> Callable[..., Broker]:
    def build(
        token: str = stub_kite.ACCESS_TOKEN, timeout_s: float = CLIENT_TIMEOUT_S, base_url: str = url
    ) -> Broker:
        creds = BrokerCredentials(api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(token))
        return ZerodhaBroker(creds, _clock(), _endpoint(base_url, timeout_s))

    return build


def _angel(url: str) -> Callable[..., Broker]:
    def build(
        token: str = stub_angel.JWT, timeout_s: float = CLIENT_TIMEOUT_S, base_url: str = url
    ) -> Broker:
        creds = BrokerCredentials(api_key=SecretStr(stub_angel.API_KEY), access_token=SecretStr(token))
        return AngelOneBroker(
            creds, _clock(), _lookup(angel_symbols.tradingsymbol), _endpoint(base_url, timeout_s)
        )

    return build


def _finvasia(url: str) -> Callable[..., Broker]:
    def build(
        token: str = stub_noren.SESSION, timeout_s: float = CLIENT_TIMEOUT_S, base_url: str = url
    ) -> Broker:
        creds = BrokerCredentials(user_id=stub_noren.USER, access_token=SecretStr(token))
        return FinvasiaBroker(
            creds, _clock(), _endpoint(base_url, timeout_s), _lookup(noren_symbols.tradingsymbol)
        )

    return build


def make_venue(name: str, server: StubHttpServer) -> Venue:
    stub, url = server.stub, server.url
    if name == "zerodha":
        return Venue(BrokerName.ZERODHA, stub, url, kite_symbols.tradingsymbol, _zerodha(url))
    if name == "angel_one":
        return Venue(BrokerName.ANGEL_ONE, stub, url, angel_symbols.tradingsymbol, _angel(url))
    return Venue(BrokerName.FINVASIA, stub, url, noren_symbols.tradingsymbol, _finvasia(url))


def make_stub(name: str) -> BrokerStub:
    if name == "zerodha":
        stub: BrokerStub = stub_kite.KiteStub()
        symbol = kite_symbols.tradingsymbol
    elif name == "angel_one":
        symbol = angel_symbols.tradingsymbol
        stub = stub_angel.AngelStub(tokens={token: symbol(i) for i, token in TOKENS.items()})
    else:
        symbol = noren_symbols.tradingsymbol
        stub = stub_noren.NorenStub(tokens={token: symbol(i) for i, token in TOKENS.items()})
    stub.prices = {symbol(CE): 120.5, symbol(PE): 95.35}
    return stub


@pytest.fixture(params=["zerodha", "angel_one", "finvasia"])
def venue(request: pytest.FixtureRequest) -> Iterator[Venue]:
    with StubHttpServer(make_stub(request.param)) as server:
        yield make_venue(request.param, server)
