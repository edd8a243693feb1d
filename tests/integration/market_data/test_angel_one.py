"""The Angel One market-data adapter with the real SDK against the stub SmartAPI on 127.0.0.1:
fields mapped from a recorded-style FULL answer, 50-token calls paced 1 s apart, untrusted answers
dropped and counted, unknown contracts absent, and every failure raised as
`MarketDataUnavailableError`."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
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
from shared_utils.brokers.symbols import angel_one as angel_symbols
from shared_utils.clock import IST
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data import angel_one
from shared_utils.market_data.angel_one import AngelOneMarketData
from shared_utils.market_data.models import CLOCK_SKEW_ALLOWANCE, MarketDataSource, QuoteRequest
from tests.integration.brokers.stub_angel import API_KEY, BASE, JWT, AngelStub
from tests.integration.brokers.stub_server import Fault, Request, StubHttpServer
from tests.integration.market_data.recorded import CE, CE_QUOTE, NIFTY_QUOTE

FIXTURE = Path(__file__).parent / "fixtures" / "angel_quote.json"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=IST)  # a Tuesday in the session; never today
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
QUOTE_PATH = f"{BASE}/market/v1/quote"
CE_TOKEN = "54820"  # NIFTY01DEC2626200CE in the recorded answer


def _strike(strike: int, underlying: Underlying = Underlying.NIFTY, **changes: Any) -> OptionInstrument:
    return CE.model_copy(update={"underlying": underlying, "strike": Decimal(strike), **changes})


@dataclass
class Venue:
    stub: AngelStub
    url: str
    # (exchange, tradingsymbol) -> symboltoken: the scrip master as the lookup sees it
    master: dict[tuple[str, str], str] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def source(self, token: str = JWT, sleep: Callable[[float], None] | None = None) -> AngelOneMarketData:
        credentials = BrokerCredentials(api_key=SecretStr(API_KEY), access_token=SecretStr(token))
        endpoint = BrokerEndpoint(base_url=self.url, timeout_s=CLIENT_TIMEOUT_S)
        return AngelOneMarketData(credentials, self.lookup, endpoint, sleep=sleep or self.sleeps.append)

    def lookup(self, exchange: str, tradingsymbol: str) -> str | None:
        return self.master.get((exchange, tradingsymbol))

    def add(self, contract: OptionInstrument, token: str, **payload: Any) -> str:
        """Put the contract in the scrip master and, with a payload, in the stub's quotes."""
        self.master[(contract.exchange.value, angel_symbols.tradingsymbol(contract))] = token
        if payload:
            self.stub.quotes[f"{contract.exchange.value}:{token}"] = _payload(**payload)
        return token

    def calls(self) -> list[Request]:
        return [request for request in self.stub.requests if request.path == QUOTE_PATH]


@pytest.fixture
def venue() -> Iterator[Venue]:
    stub = AngelStub()
    with StubHttpServer(stub) as server:
        yield Venue(stub=stub, url=server.url)


def _payload(
    price: object = 100.5, feed: str | None = "24-Nov-2026 09:59:30", **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"ltp": price, "tradeVolume": 650, "opnInterest": 1300}
    if feed is not None:
        payload["exchFeedTime"] = feed
    return {**payload, **fields}


def test_adapter_satisfies_the_port(venue: Venue) -> None:
    source: MarketDataSource = venue.source()
    assert source.quotes(QuoteRequest(), AT).requests == 0
    assert venue.calls() == []


def test_recorded_answer_is_mapped_field_by_field(venue: Venue) -> None:
    for entry in json.loads(FIXTURE.read_text())["data"]["fetched"]:
        venue.stub.quotes[f"{entry['exchange']}:{entry['symbolToken']}"] = entry
    venue.add(CE, CE_TOKEN)

    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.NIFTY], contracts=[CE]), AT)

    assert (batch.requests, batch.dropped) == (1, 0)
    [call] = venue.calls()
    assert call.json() == {"mode": "FULL", "exchangeTokens": {"NSE": ["99926000"], "NFO": [CE_TOKEN]}}
    assert call.headers["authorization"] == f"Bearer {JWT}" and call.headers["x-privatekey"] == API_KEY
    assert venue.sleeps == []
    by_instrument = {quote.instrument: quote for quote in batch.quotes}
    assert by_instrument[CE.key] == CE_QUOTE
    # Angel sends an index zeros for depth, volume and OI: none of them is a fact about it
    assert by_instrument["NIFTY"] == NIFTY_QUOTE


def test_every_index_goes_by_its_fixed_token_on_its_exchange(venue: Venue) -> None:
    request = QuoteRequest(indices=list(Underlying))
    venue.source().quotes(request, AT)
    [call] = venue.calls()
    assert call.json()["exchangeTokens"] == {
        "NSE": ["99926000", "99926009", "99926037", "99926074", "99926013"],
        "BSE": ["99919000", "99919012"],
    }
    assert set(angel_symbols.INDEX_TOKENS) == set(Underlying)


def test_an_empty_side_of_the_book_leaves_bid_or_ask_unset(venue: Venue) -> None:
    book = {"buy": [{"price": 0, "quantity": 0, "orders": 0}], "sell": [{"price": 118.5, "quantity": 65}]}
    venue.add(CE, CE_TOKEN, depth=book)
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert (quote.bid, quote.ask) == (None, Decimal("118.50"))


def test_101_instruments_take_three_calls_of_at_most_50_a_second_apart(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(99)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(40000 + n), price=100 + n)
    venue.stub.quotes["NSE:99926000"] = _payload(26143.75)
    venue.stub.quotes["NSE:99926009"] = _payload(58210.3)
    request = QuoteRequest(indices=[Underlying.NIFTY, Underlying.BANKNIFTY], contracts=contracts)

    batch = venue.source().quotes(request, AT)

    asked = [call.json()["exchangeTokens"] for call in venue.calls()]
    assert [sum(map(len, tokens.values())) for tokens in asked] == [50, 50, 1]
    assert asked[0]["NSE"] == ["99926000", "99926009"] and len(asked[0]["NFO"]) == 48
    assert all(call.json()["mode"] == "FULL" for call in venue.calls())
    assert venue.sleeps == [1.0, 1.0]
    assert (batch.requests, batch.dropped, len(batch.quotes)) == (3, 0, 101)
    assert {quote.instrument for quote in batch.quotes} == {"NIFTY", "BANKNIFTY"} | {c.key for c in contracts}


def test_untrusted_answers_are_dropped_and_counted(venue: Venue) -> None:
    contracts = [_strike(26000 + 100 * n) for n in range(8)]
    answers: list[dict[str, Any]] = [
        {},  # trusted
        {"feed": "24-Nov-2026 10:00:06"},  # past the clocks' allowed skew (5 s)
        {"price": 0},
        {"price": -2.5},
        {"price": None},
        {"feed": None},  # no time at all
        {"feed": "24-11-2026 09:59:30"},  # not Angel's format: no time we can read
        {"tradeVolume": -65},  # fails validation
    ]
    for n, (contract, answer) in enumerate(zip(contracts, answers, strict=True)):
        venue.add(contract, str(40000 + n), **(answer or {"price": 100.5}))

    batch = venue.source().quotes(QuoteRequest(contracts=contracts), AT)

    assert [quote.instrument for quote in batch.quotes] == [contracts[0].key]
    assert (batch.dropped, batch.requests) == (7, 1)


def test_a_quote_stamped_within_the_clocks_skew_is_kept(venue: Venue) -> None:
    venue.add(CE, CE_TOKEN, feed="24-Nov-2026 10:00:05")
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert quote.as_of == AT + CLOCK_SKEW_ALLOWANCE


def test_exch_trade_time_stands_in_only_when_the_feed_time_is_missing(venue: Venue) -> None:
    other = _strike(26300)
    venue.add(CE, CE_TOKEN, feed=None, exchTradeTime="24-Nov-2026 09:58:10")
    venue.add(other, "54822", exchTradeTime="24-Nov-2026 09:58:10")
    batch = venue.source().quotes(QuoteRequest(contracts=[CE, other]), AT)
    assert {quote.instrument: quote.as_of for quote in batch.quotes} == {
        CE.key: datetime(2026, 11, 24, 9, 58, 10, tzinfo=IST),
        other.key: datetime(2026, 11, 24, 9, 59, 30, tzinfo=IST),
    }


def test_contracts_without_a_token_are_absent_and_logged_once(
    venue: Venue, caplog: pytest.LogCaptureFixture
) -> None:
    venue.add(CE, CE_TOKEN, price=118.4)
    unknown = [_strike(26300), _strike(26400)]
    with caplog.at_level(logging.WARNING):
        batch = venue.source().quotes(QuoteRequest(contracts=[CE, *unknown]), AT)
    assert [quote.instrument for quote in batch.quotes] == [CE.key]
    assert (batch.dropped, batch.requests) == (0, 1)
    [call] = venue.calls()
    assert call.json()["exchangeTokens"] == {"NFO": [CE_TOKEN]}  # the unknown ones are never asked
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.count == 2  # type: ignore[attr-defined]
    assert record.examples == ["NFO:NIFTY01DEC2626300CE", "NFO:NIFTY01DEC2626400CE"]  # type: ignore[attr-defined]


def test_only_unknown_contracts_make_no_call(venue: Venue) -> None:
    batch = venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert (batch.quotes, batch.dropped, batch.requests) == ([], 0, 0)
    assert venue.calls() == []


def test_a_token_angel_leaves_unfetched_is_absent_not_dropped(venue: Venue) -> None:
    other = _strike(26300)
    venue.add(CE, CE_TOKEN, price=118.4)
    venue.add(other, "54822")  # in the scrip master, but Angel has no quote for it
    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.FINNIFTY], contracts=[CE, other]), AT)
    assert [quote.instrument for quote in batch.quotes] == [CE.key]
    assert (batch.dropped, batch.requests) == (0, 1)


def test_bse_indices_and_contracts_go_by_bse_and_bfo_tokens(venue: Venue) -> None:
    sensex = _strike(85000, Underlying.SENSEX, expiry=date(2026, 11, 26), monthly=True)
    bankex = _strike(62000, Underlying.BANKEX, expiry=date(2026, 11, 26), monthly=True)
    venue.add(sensex, "1128401", price=412.3)
    venue.add(bankex, "1133977", price=385.1)
    venue.stub.quotes["BSE:99919000"] = _payload(84960.2)
    venue.stub.quotes["BSE:99919012"] = _payload(62010.5)
    assert venue.master == {
        ("BFO", "SENSEX26NOV2685000CE"): "1128401",
        ("BFO", "BANKEX26NOV2662000CE"): "1133977",
    }

    request = QuoteRequest(indices=[Underlying.SENSEX, Underlying.BANKEX], contracts=[sensex, bankex])
    batch = venue.source().quotes(request, AT)

    assert venue.calls()[0].json()["exchangeTokens"] == {
        "BSE": ["99919000", "99919012"],
        "BFO": ["1128401", "1133977"],
    }
    prices = {quote.instrument: quote.last_price for quote in batch.quotes}
    assert prices == {
        "SENSEX": Decimal("84960.20"),
        "BANKEX": Decimal("62010.50"),
        sensex.key: Decimal("412.30"),
        bankex.key: Decimal("385.10"),
    }


def test_an_answer_for_the_wrong_exchange_or_twice_is_not_mapped(venue: Venue) -> None:
    venue.add(CE, CE_TOKEN, price=118.4)
    venue.stub.faults.append(
        Fault(
            "/quote",
            status=200,
            body={
                "status": True,
                "message": "SUCCESS",
                "errorcode": "",
                "data": {
                    "fetched": [
                        {**_payload(90.0), "exchange": "BFO", "symbolToken": CE_TOKEN},
                        {**_payload(118.4), "exchange": "NFO", "symbolToken": CE_TOKEN},
                        {**_payload(0), "exchange": "NFO", "symbolToken": CE_TOKEN},
                    ],
                    "unfetched": [],
                },
            },
        )
    )
    batch = venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert [(quote.instrument, quote.last_price) for quote in batch.quotes] == [(CE.key, Decimal("118.40"))]
    assert batch.dropped == 0


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault("/quote", status=429, body={"message": "Too many requests"}), "rate limited: HTTP 429"),
        (
            Fault(
                "/quote",
                status=403,
                body=b"Access denied because of exceeding access rate",
                content_type="text/plain",
            ),
            "rate limited: HTTP 403 exceeding access rate",
        ),
        (
            Fault(
                "/quote",
                status=200,
                body={"status": False, "message": "Access denied because of exceeding access rate"},
            ),
            "rate limited: Access denied because of exceeding access rate",
        ),
        (Fault("/quote", status=500, body={"message": "x"}), "unavailable: HTTP 500"),
        (
            Fault("/quote", status=503, body=b"<html>503</html>", content_type="text/html"),
            "unavailable: HTTP 503",
        ),
        (Fault("/quote", stall_s=STALL_S), "unavailable: no answer in"),
    ],
    ids=["429", "403-access-rate", "200-access-rate", "500", "503-html", "stall"],
)
def test_a_failed_call_raises_market_data_unavailable(venue: Venue, fault: Fault, cause: str) -> None:
    venue.add(CE, CE_TOKEN, price=118.4)
    venue.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert time.monotonic() - started < STALL_S
    assert error.value.message.startswith("angel one: ") and cause in error.value.message


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ({"status": True, "message": "SUCCESS", "errorcode": "", "data": None}, "malformed answer: data is"),
        ({"status": True, "data": {"fetched": {"x": 1}}}, "malformed answer: fetched is not a list"),
        ({"status": True, "data": {"fetched": [None]}}, "malformed answer: fetched is not a list"),
        ([1, 2], "malformed answer: list"),
        (
            {"status": False, "message": "Something Went Wrong", "errorcode": "AB1004"},
            "request refused: AB1004",
        ),
        (b"<html>maintenance</html>", "unavailable: unreadable answer (HTTP 200)"),
    ],
    ids=["null-data", "fetched-not-list", "null-entry", "not-an-object", "refused", "not-json"],
)
def test_a_malformed_or_refused_answer_raises_market_data_unavailable(
    venue: Venue, body: object, cause: str
) -> None:
    venue.add(CE, CE_TOKEN, price=118.4)
    content_type = "text/html" if isinstance(body, bytes) else "application/json"
    venue.stub.faults.append(Fault("/quote", status=200, body=body, content_type=content_type))
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert error.value.message.startswith(f"angel one: {cause}")


@pytest.mark.parametrize(
    ("token", "fault", "cause"),
    [
        ("expired-jwt", None, "token or permission refused: AG8001 Invalid Token"),
        (
            JWT,
            Fault(
                "/quote",
                status=200,
                body={"success": False, "message": "Invalid Token", "errorCode": "AG8001"},
            ),
            "token or permission refused: AG8001 Invalid Token",
        ),
        (
            JWT,
            Fault("/quote", status=401, body={"message": "Unauthorized"}),
            "token or permission refused: HTTP 401",
        ),
    ],
    ids=["refused-jwt", "gateway-shape", "http-401"],
)
def test_a_refused_token_raises_market_data_unavailable(
    venue: Venue, token: str, fault: Fault | None, cause: str
) -> None:
    if fault is not None:
        venue.stub.faults.append(fault)
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source(token=token).quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)
    assert error.value.message == f"angel one: {cause}"
    assert "expired-jwt" not in error.value.message


def test_a_refused_connection_raises_market_data_unavailable(venue: Venue) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    venue.url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(MarketDataUnavailableError, match="angel one: unavailable: cannot connect"):
        venue.source().quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)


def test_a_failure_after_a_good_call_fails_the_whole_refresh(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(51)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(40000 + n), price=100.5)

    def sleep_then_fail(seconds: float) -> None:
        venue.sleeps.append(seconds)
        venue.stub.faults.append(Fault("/quote", status=500, body={"message": "x"}))

    source = venue.source(sleep=sleep_then_fail)
    with pytest.raises(MarketDataUnavailableError, match="angel one: unavailable: HTTP 500"):
        source.quotes(QuoteRequest(contracts=contracts), AT)
    assert len(venue.calls()) == 2 and venue.sleeps == [1.0]


def test_the_stub_refuses_more_than_50_tokens_as_angel_does(
    venue: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(angel_one, "MAX_TOKENS_PER_CALL", 51)
    contracts = [_strike(100 + 50 * n) for n in range(51)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(40000 + n))
    with pytest.raises(
        MarketDataUnavailableError, match="angel one: request refused: STUB50 Too many tokens"
    ):
        venue.source().quotes(QuoteRequest(contracts=contracts), AT)


def test_an_ltp_only_entry_has_no_exchange_time_and_is_dropped(venue: Venue) -> None:
    """The stub's LTP-mode prices (the order adapter's) carry no exchange time: not a quote to trust."""
    venue.stub.tokens = {"43650": "NIFTY01DEC2626200CE"}
    venue.stub.prices = {"NIFTY01DEC2626200CE": 120.5}
    venue.master[("NFO", "NIFTY01DEC2626200CE")] = "43650"
    batch = venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert (batch.quotes, batch.dropped, batch.requests) == ([], 1, 1)
