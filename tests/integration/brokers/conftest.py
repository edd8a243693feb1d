"""Each SDK adapter against a stub of its broker's REST API on 127.0.0.1 (port 0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.angel_one import AngelOneBroker
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.dhan import DhanBroker
from shared_utils.brokers.finvasia import FinvasiaBroker
from shared_utils.brokers.models import (
    BrokerName,
    DerivativesExchange,
    OptionInstrument,
    OrderRequest,
    OrderType,
    Position,
)
from shared_utils.brokers.port import Broker
from shared_utils.brokers.symbols import angel_one as angel_symbols
from shared_utils.brokers.symbols import dhan as dhan_symbols
from shared_utils.brokers.symbols import finvasia as noren_symbols
from shared_utils.brokers.symbols import upstox as upstox_symbols
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.brokers.tag import broker_tag, order_key
from shared_utils.brokers.upstox import UpstoxBroker
from shared_utils.brokers.zerodha import ZerodhaBroker
from shared_utils.clock import FixedClock
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from tests.integration.brokers import stub_angel, stub_dhan, stub_kite, stub_noren, stub_upstox
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
Tokens = Mapping[OptionInstrument, str]
Lookup = Callable[[str, str], str | None]


@dataclass
class Venue:
    name: BrokerName
    stub: BrokerStub
    url: str
    symbol: Callable[[OptionInstrument], str]
    build: Callable[..., Broker]
    # What the broker's refusal of a contract it does not list says (case aside).
    unknown_contract: str = "symbol"
    # How its positions name a contract, where not by `symbol` (Upstox: the exchange's symbol).
    reports: Callable[[OptionInstrument], str] | None = None

    def position_symbol(self, instrument: OptionInstrument) -> str:
        return (self.reports or self.symbol)(instrument)

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

    def exit_order(self, tradingsymbol: str, segment: DerivativesExchange) -> OrderRequest:
        """A BUY of 75 addressed by a symbol (as positions() report one), not by an instrument."""
        update = {"instrument": None, "tradingsymbol": tradingsymbol, "segment": segment}
        return self.order(leg=5, side=Action.BUY, quantity=75).model_copy(update=update)

    def hold_short_ce_long_pe(self, broker: Broker) -> None:
        """Sells 150 of CE and buys 75 of PE, both filled at the stub's prices."""
        broker.place(self.order(leg=1, side=Action.SELL, quantity=150))
        broker.place(self.order(leg=2, side=Action.BUY, quantity=75))

    def square_off(self, broker: Broker) -> Position:
        """Sells 75 of CE, then buys them back by the symbol positions() reports; that position."""
        broker.place(self.order(leg=1, side=Action.SELL, quantity=75))
        position = next(p for p in broker.positions() if p.quantity)
        broker.place(self.exit_order(position.tradingsymbol, position.exchange))
        return position


def _clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 4, 0, tzinfo=UTC))


def _endpoint(url: str, timeout_s: float) -> BrokerEndpoint:
    return BrokerEndpoint(base_url=url, timeout_s=timeout_s, client_public_ip=STATIC_IP)


def _lookup(symbol: Callable[[OptionInstrument], str], tokens: Tokens = TOKENS) -> Lookup:
    table = {(instrument.exchange.value, symbol(instrument)): token for instrument, token in tokens.items()}
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


def _upstox(token: str, lookup: Lookup, endpoint: BrokerEndpoint) -> Broker:
    return UpstoxBroker(BrokerCredentials(access_token=SecretStr(token)), _clock(), lookup, endpoint)


def _dhan(token: str, lookup: Lookup, endpoint: BrokerEndpoint) -> Broker:
    creds = BrokerCredentials(user_id=stub_dhan.CLIENT_ID, access_token=SecretStr(token))
    return DhanBroker(creds, _clock(), lookup, endpoint)


def _with_lookup(
    adapter: Callable[[str, Lookup, BrokerEndpoint], Broker], url: str, default_token: str, known: Lookup
) -> Callable[..., Broker]:
    """Upstox's and Dhan's builder: `algo_id` for the endpoint, `lookup` to replace the tokens'."""

    def build(
        token: str = default_token,
        timeout_s: float = CLIENT_TIMEOUT_S,
        base_url: str = url,
        algo_id: str | None = None,
        lookup: Lookup = known,
    ) -> Broker:
        return adapter(token, lookup, BrokerEndpoint(base_url=base_url, timeout_s=timeout_s, algo_id=algo_id))

    return build


SYMBOLS: dict[str, Callable[[OptionInstrument], str]] = {
    "zerodha": kite_symbols.tradingsymbol,
    "angel_one": angel_symbols.tradingsymbol,
    "finvasia": noren_symbols.tradingsymbol,
    "upstox": upstox_symbols.tradingsymbol,
    "dhan": dhan_symbols.tradingsymbol,
}


def make_venue(name: str, server: StubHttpServer, tokens: Tokens = TOKENS) -> Venue:
    """`tokens`: the contracts the adapter's token lookup knows (Angel, Finvasia, Upstox, Dhan)."""
    stub, url, symbol = server.stub, server.url, SYMBOLS[name]
    if name == "zerodha":
        return Venue(BrokerName.ZERODHA, stub, url, symbol, _zerodha(url))
    if name == "angel_one":
        return Venue(BrokerName.ANGEL_ONE, stub, url, symbol, _angel(url))
    if name == "upstox":
        build = _with_lookup(_upstox, url, stub_upstox.ACCESS_TOKEN, _lookup(symbol, tokens))
        refusal = "UDAPI1087 Invalid Instrument key"
        return Venue(BrokerName.UPSTOX, stub, url, symbol, build, refusal, reports=kite_symbols.tradingsymbol)
    if name == "dhan":
        build = _with_lookup(_dhan, url, stub_dhan.ACCESS_TOKEN, _lookup(symbol, tokens))
        return Venue(BrokerName.DHAN, stub, url, symbol, build, "DH-905 Invalid securityId: symbol not found")
    return Venue(BrokerName.FINVASIA, stub, url, symbol, _finvasia(url))


def dhan_contract(instrument: OptionInstrument) -> stub_dhan.Contract:
    segment = "BSE_FNO" if instrument.underlying is Underlying.SENSEX else "NSE_FNO"
    return stub_dhan.Contract(
        instrument.underlying.value,
        instrument.expiry,
        instrument.strike,
        instrument.option_type.value,
        segment,
    )


def make_stub(name: str, tokens: Tokens = TOKENS) -> BrokerStub:
    """`tokens`: the contracts the stub lists (all but Kite's stub list them by token)."""
    symbol = SYMBOLS[name]
    listed = {token: symbol(instrument) for instrument, token in tokens.items()}
    stub: BrokerStub
    if name == "zerodha":
        stub = stub_kite.KiteStub()
    elif name == "angel_one":
        stub = stub_angel.AngelStub(tokens=listed)
    elif name == "upstox":
        stub = stub_upstox.UpstoxStub(
            tokens=listed,
            # the exchange's symbols, as Upstox's order book, positions and quotes name contracts
            exchange_symbols={token: kite_symbols.tradingsymbol(i) for i, token in tokens.items()},
        )
    elif name == "dhan":
        stub = stub_dhan.DhanStub(contracts={token: dhan_contract(i) for i, token in tokens.items()})
    else:
        stub = stub_noren.NorenStub(tokens=listed)
    stub.prices = {symbol(CE): 120.5, symbol(PE): 95.35}
    return stub


@pytest.fixture(params=["zerodha", "angel_one", "finvasia", "upstox", "dhan"])
def venue(request: pytest.FixtureRequest) -> Iterator[Venue]:
    with StubHttpServer(make_stub(request.param)) as server:
        yield make_venue(request.param, server)
