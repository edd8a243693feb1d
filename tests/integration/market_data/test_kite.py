"""The Kite market-data adapter with the real SDK against the stub Kite REST API on 127.0.0.1:
fields mapped from a recorded-style answer, 500-name calls paced 1 s apart, untrusted answers
dropped and counted, and every failure raised as `MarketDataUnavailableError`."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.clock import IST
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data import kite
from shared_utils.market_data.kite import KiteMarketData
from shared_utils.market_data.models import CLOCK_SKEW_ALLOWANCE, MarketDataSource, QuoteRequest
from tests.integration.brokers.stub_kite import ACCESS_TOKEN, API_KEY, KiteStub
from tests.integration.brokers.stub_server import Fault, Request, StubHttpServer
from tests.integration.market_data.recorded import CE, CE_QUOTE, NIFTY_QUOTE

FIXTURE = Path(__file__).parent / "fixtures" / "kite_quote.json"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=IST)  # a Tuesday in the session; never today
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
CE_NAME = "NFO:NIFTY26D0126200CE"


@dataclass
class Venue:
    stub: KiteStub
    url: str
    sleeps: list[float] = field(default_factory=list)

    def source(self, token: str = ACCESS_TOKEN) -> KiteMarketData:
        credentials = BrokerCredentials(api_key=SecretStr(API_KEY), access_token=SecretStr(token))
        endpoint = BrokerEndpoint(base_url=self.url, timeout_s=CLIENT_TIMEOUT_S)
        return KiteMarketData(credentials, endpoint, sleep=self.sleeps.append)

    def calls(self) -> list[Request]:
        return [request for request in self.stub.requests if request.path == "/quote"]


@pytest.fixture
def venue() -> Iterator[Venue]:
    stub = KiteStub()
    with StubHttpServer(stub) as server:
        yield Venue(stub=stub, url=server.url)


def _payload(
    price: object = 100.5, timestamp: str | None = "2026-11-24 09:59:30", **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"instrument_token": 1, "last_price": price, "volume": 650, "oi": 1300}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return {**payload, **fields}


def _strike(strike: int, underlying: Underlying = Underlying.NIFTY, **changes: Any) -> OptionInstrument:
    return CE.model_copy(update={"underlying": underlying, "strike": Decimal(strike), **changes})


def test_adapter_satisfies_the_port(venue: Venue) -> None:
    source: MarketDataSource = venue.source()
    assert source.quotes(QuoteRequest(), AT).requests == 0
    assert venue.calls() == []


def test_recorded_answer_is_mapped_field_by_field(venue: Venue) -> None:
    venue.stub.quotes = json.loads(FIXTURE.read_text())["data"]
    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.NIFTY], contracts=[CE]), AT)

    assert (batch.requests, batch.dropped) == (1, 0)
    [call] = venue.calls()
    assert call.query["i"] == ["NSE:NIFTY 50", CE_NAME]
    assert call.headers["authorization"] == f"token {API_KEY}:{ACCESS_TOKEN}"
    assert call.headers["x-kite-version"] == "3"
    assert venue.sleeps == []
    by_instrument = {quote.instrument: quote for quote in batch.quotes}
    assert by_instrument[CE.key] == CE_QUOTE
    assert by_instrument["NIFTY"] == NIFTY_QUOTE


def test_an_index_has_no_depth_volume_or_oi_even_when_kite_sends_zeros(venue: Venue) -> None:
    empty_book = {"buy": [{"price": 0, "quantity": 0, "orders": 0}], "sell": []}
    venue.stub.quotes = {"NSE:NIFTY BANK": _payload(58210.3, depth=empty_book, volume=0, oi=0)}
    [quote] = venue.source().quotes(QuoteRequest(indices=[Underlying.BANKNIFTY]), AT).quotes
    assert (quote.instrument, quote.last_price) == ("BANKNIFTY", Decimal("58210.30"))
    assert (quote.bid, quote.ask, quote.volume, quote.open_interest) == (None, None, None, None)


def test_an_empty_side_of_the_book_leaves_bid_or_ask_unset(venue: Venue) -> None:
    book = {"buy": [{"price": 0, "quantity": 0, "orders": 0}], "sell": [{"price": 118.5, "quantity": 65}]}
    venue.stub.quotes = {CE_NAME: _payload(118.4, depth=book)}
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert (quote.bid, quote.ask) == (None, Decimal("118.50"))


def test_1001_instruments_take_three_calls_of_at_most_500_a_second_apart(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(1001)]
    venue.stub.quotes = {f"NFO:{name}": _payload() for name in map(kite_symbols.tradingsymbol, contracts)}

    batch = venue.source().quotes(QuoteRequest(contracts=contracts), AT)

    assert [len(call.query["i"]) for call in venue.calls()] == [500, 500, 1]
    assert venue.sleeps == [1.0, 1.0]
    assert (batch.requests, batch.dropped, len(batch.quotes)) == (3, 0, 1001)
    assert {quote.instrument for quote in batch.quotes} == {contract.key for contract in contracts}


def test_untrusted_answers_are_dropped_and_counted(venue: Venue) -> None:
    contracts = [_strike(26000 + 100 * n) for n in range(7)]
    names = [f"NFO:{kite_symbols.tradingsymbol(contract)}" for contract in contracts]
    venue.stub.quotes = {
        names[0]: _payload(),  # trusted
        names[1]: _payload(timestamp="2026-11-24 10:00:06"),  # past the clocks' allowed skew (5 s)
        names[2]: _payload(price=0),
        names[3]: _payload(price=-2.5),
        names[4]: _payload(price=None),
        names[5]: _payload(timestamp=None),  # no time at all
        names[6]: _payload(volume=-65),  # fails validation
    }
    batch = venue.source().quotes(QuoteRequest(contracts=contracts), AT)
    assert [quote.instrument for quote in batch.quotes] == [contracts[0].key]
    assert (batch.dropped, batch.requests) == (6, 1)


def test_a_quote_stamped_within_the_clocks_skew_is_kept(venue: Venue) -> None:
    venue.stub.quotes = {CE_NAME: _payload(timestamp="2026-11-24 10:00:05")}
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert quote.as_of == AT + CLOCK_SKEW_ALLOWANCE


def test_last_trade_time_stands_in_only_when_timestamp_is_missing(venue: Venue) -> None:
    other = _strike(26300)
    venue.stub.quotes = {
        CE_NAME: _payload(timestamp=None, last_trade_time="2026-11-24 09:58:10"),
        "NFO:NIFTY26D0126300CE": _payload(last_trade_time="2026-11-24 09:58:10"),
    }
    batch = venue.source().quotes(QuoteRequest(contracts=[CE, other]), AT)
    as_of = {quote.instrument: quote.as_of for quote in batch.quotes}
    assert as_of == {
        CE.key: datetime(2026, 11, 24, 9, 58, 10, tzinfo=IST),
        other.key: datetime(2026, 11, 24, 9, 59, 30, tzinfo=IST),
    }


def test_an_instrument_kite_does_not_return_is_absent_not_dropped(venue: Venue) -> None:
    venue.stub.quotes = {CE_NAME: _payload()}
    request = QuoteRequest(indices=[Underlying.FINNIFTY], contracts=[CE, _strike(26300)])
    batch = venue.source().quotes(request, AT)
    assert [quote.instrument for quote in batch.quotes] == [CE.key]
    assert (batch.dropped, batch.requests) == (0, 1)


def test_bse_indices_and_contracts_go_by_bse_and_bfo_names(venue: Venue) -> None:
    sensex = _strike(85000, Underlying.SENSEX, expiry=date(2026, 11, 26), monthly=True)
    bankex = _strike(62000, Underlying.BANKEX, expiry=date(2026, 11, 26), monthly=True)
    names = ["BSE:SENSEX", "BSE:BANKEX", "BFO:SENSEX26NOV85000CE", "BFO:BANKEX26NOV62000CE"]
    venue.stub.quotes = {name: _payload() for name in names}

    request = QuoteRequest(indices=[Underlying.SENSEX, Underlying.BANKEX], contracts=[sensex, bankex])
    batch = venue.source().quotes(request, AT)

    assert venue.calls()[0].query["i"] == names
    assert {quote.instrument for quote in batch.quotes} == {"SENSEX", "BANKEX", sensex.key, bankex.key}


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (
            Fault("/quote", status=429, body={"status": "error", "message": "Too many requests"}),
            "rate limited: HTTP 429",
        ),
        (
            Fault(
                "/quote",
                status=500,
                body={"status": "error", "message": "x", "error_type": "GeneralException"},
            ),
            "unavailable: HTTP 500",
        ),
        (
            Fault("/quote", status=503, body=b"<html>503</html>", content_type="text/html"),
            "unavailable: HTTP 503",
        ),
        (Fault("/quote", stall_s=STALL_S), "unavailable: no answer in"),
    ],
    ids=["429", "500", "503-html", "stall"],
)
def test_a_failed_call_raises_market_data_unavailable(venue: Venue, fault: Fault, cause: str) -> None:
    venue.stub.quotes = {CE_NAME: _payload()}
    venue.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert time.monotonic() - started < STALL_S
    assert error.value.message.startswith("kite: ") and cause in error.value.message


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (None, "malformed answer"),
        ({CE_NAME: None}, "malformed answer"),
        ({CE_NAME: _payload(timestamp="2026-11-24 99:99:99")}, "malformed answer"),  # the SDK parses it
    ],
    ids=["no-data", "null-entry", "bad-timestamp"],
)
def test_a_malformed_answer_raises_market_data_unavailable(venue: Venue, data: object, cause: str) -> None:
    venue.stub.faults.append(Fault("/quote", status=200, body={"status": "success", "data": data}))
    with pytest.raises(MarketDataUnavailableError, match=f"kite: {cause}"):
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)


def test_an_answer_that_is_not_json_raises_market_data_unavailable(venue: Venue) -> None:
    venue.stub.faults.append(
        Fault("/quote", status=200, body=b"<html>maintenance</html>", content_type="text/html")
    )
    with pytest.raises(MarketDataUnavailableError, match="kite: unavailable: Unknown Content-Type"):
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)


def test_a_refused_token_raises_market_data_unavailable(venue: Venue) -> None:
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source(token="expired").quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)
    assert error.value.message.startswith("kite: token or permission refused")
    assert "expired" not in error.value.message


def test_a_refused_connection_raises_market_data_unavailable(venue: Venue) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    venue.url = f"http://127.0.0.1:{closed_port}"
    source = venue.source()
    with pytest.raises(MarketDataUnavailableError, match="kite: unavailable"):
        source.quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)


def test_a_failure_after_a_good_call_fails_the_whole_refresh(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(501)]
    venue.stub.quotes = {f"NFO:{name}": _payload() for name in map(kite_symbols.tradingsymbol, contracts)}

    def sleep_then_fail(seconds: float) -> None:
        venue.sleeps.append(seconds)
        venue.stub.faults.append(Fault("/quote", status=500, body={"status": "error", "message": "x"}))

    source = KiteMarketData(
        BrokerCredentials(api_key=SecretStr(API_KEY), access_token=SecretStr(ACCESS_TOKEN)),
        BrokerEndpoint(base_url=venue.url, timeout_s=CLIENT_TIMEOUT_S),
        sleep=sleep_then_fail,
    )
    with pytest.raises(MarketDataUnavailableError, match="kite: unavailable"):
        source.quotes(QuoteRequest(contracts=contracts), AT)
    assert len(venue.calls()) == 2 and venue.sleeps == [1.0]


def test_the_stub_refuses_more_than_500_names_as_kite_does(
    venue: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kite, "MAX_INSTRUMENTS_PER_CALL", 501)
    contracts = [_strike(100 + 50 * n) for n in range(501)]
    with pytest.raises(MarketDataUnavailableError, match="kite: request refused: Too many instruments"):
        venue.source().quotes(QuoteRequest(contracts=contracts), AT)
