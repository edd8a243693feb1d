"""The Finvasia market-data adapter with the real Noren SDK against the stub Noren REST API on
127.0.0.1: fields mapped from recorded-style GetQuotes answers, one call an instrument paced
0.3 s apart and bounded per refresh, untrusted answers dropped and counted, unknown contracts
absent, and every failure raised as `MarketDataUnavailableError`."""

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
from shared_utils.brokers.symbols import finvasia as noren_symbols
from shared_utils.clock import IST
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.finvasia import FinvasiaMarketData
from shared_utils.market_data.models import CLOCK_SKEW_ALLOWANCE, MarketDataSource, QuoteRequest
from tests.integration.brokers.stub_noren import SESSION, USER, NorenStub
from tests.integration.brokers.stub_server import Fault, Request, StubHttpServer
from tests.integration.market_data.recorded import CE, CE_QUOTE, NIFTY_QUOTE

FIXTURE = Path(__file__).parent / "fixtures" / "noren_quote.json"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=IST)  # a Tuesday in the session; never today
LUT_0930 = int(datetime(2026, 11, 24, 9, 59, 30, tzinfo=IST).timestamp())
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
CE_TOKEN = "54820"  # NIFTY01DEC26C26200 in the recorded answers


def _strike(strike: int, underlying: Underlying = Underlying.NIFTY, **changes: Any) -> OptionInstrument:
    return CE.model_copy(update={"underlying": underlying, "strike": Decimal(strike), **changes})


def _payload(price: object = "100.50", lut: object = LUT_0930, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"lp": price, "v": "650", "oi": "1300", "bp1": "100.45", "sp1": "100.55"}
    if lut is not None:
        payload["lut"] = str(lut)
    return {**payload, **fields}


@dataclass
class Venue:
    stub: NorenStub
    url: str
    # (exchange, tradingsymbol) -> token: Noren's symbol masters as the lookup sees them
    master: dict[tuple[str, str], str] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def source(
        self,
        session: str = SESSION,
        sleep: Callable[[float], None] | None = None,
        **options: Any,
    ) -> FinvasiaMarketData:
        credentials = BrokerCredentials(user_id=USER, access_token=SecretStr(session))
        endpoint = BrokerEndpoint(base_url=self.url, timeout_s=CLIENT_TIMEOUT_S)
        return FinvasiaMarketData(
            credentials, self.lookup, endpoint, sleep=sleep or self.sleeps.append, **options
        )

    def lookup(self, exchange: str, tradingsymbol: str) -> str | None:
        return self.master.get((exchange, tradingsymbol))

    def add(self, contract: OptionInstrument, token: str, **payload: Any) -> str:
        """Put the contract in the symbol master and, with a payload, in the stub's quotes."""
        self.master[(contract.exchange.value, noren_symbols.tradingsymbol(contract))] = token
        if payload:
            self.stub.quotes[f"{contract.exchange.value}|{token}"] = _payload(**payload)
        return token

    def calls(self) -> list[dict[str, Any]]:
        return [_jdata(request) for request in self.stub.requests if request.path.endswith("/GetQuotes")]


def _jdata(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.form()["jData"])
    return data


@pytest.fixture
def venue() -> Iterator[Venue]:
    stub = NorenStub()
    with StubHttpServer(stub) as server:
        yield Venue(stub=stub, url=server.url)


def test_adapter_satisfies_the_port(venue: Venue) -> None:
    source: MarketDataSource = venue.source()
    assert source.quotes(QuoteRequest(), AT).requests == 0
    assert venue.calls() == []


def test_recorded_answers_are_mapped_field_by_field(venue: Venue) -> None:
    venue.stub.quotes = json.loads(FIXTURE.read_text())
    venue.add(CE, CE_TOKEN)

    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.NIFTY], contracts=[CE]), AT)

    assert (batch.requests, batch.dropped) == (2, 0)
    assert venue.calls() == [
        {"uid": USER, "exch": "NSE", "token": "26000"},
        {"uid": USER, "exch": "NFO", "token": CE_TOKEN},
    ]
    assert all(request.form()["jKey"] == SESSION for request in venue.stub.requests)
    assert venue.sleeps == [0.3]
    by_instrument = {quote.instrument: quote for quote in batch.quotes}
    assert by_instrument[CE.key] == CE_QUOTE
    assert by_instrument["NIFTY"] == NIFTY_QUOTE


def test_every_index_goes_by_its_fixed_token_on_its_exchange(venue: Venue) -> None:
    venue.source().quotes(QuoteRequest(indices=list(Underlying)), AT)
    assert [(call["exch"], call["token"]) for call in venue.calls()] == [
        ("NSE", "26000"),
        ("NSE", "26009"),
        ("NSE", "26037"),
        ("NSE", "26074"),
        ("NSE", "26013"),
        ("BSE", "1"),
        ("BSE", "12"),
    ]
    assert set(noren_symbols.INDEX_TOKENS) == set(Underlying)


def test_an_empty_side_of_the_book_leaves_bid_or_ask_unset(venue: Venue) -> None:
    venue.add(CE, CE_TOKEN, bp1="0.00", sp1="118.50")
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert (quote.bid, quote.ask) == (None, Decimal("118.50"))


def test_one_call_an_instrument_paced_to_200_a_minute(venue: Venue) -> None:
    contracts = [_strike(26000 + 50 * n) for n in range(4)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(45000 + n), price=f"{100 + n}.00")
    venue.stub.quotes["NSE|26009"] = _payload("58210.30")

    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.BANKNIFTY], contracts=contracts), AT)

    assert [call["token"] for call in venue.calls()] == ["26009", "45000", "45001", "45002", "45003"]
    assert venue.sleeps == [0.3] * 4
    assert (batch.requests, batch.dropped, len(batch.quotes)) == (5, 0, 5)


def test_a_refresh_past_the_bound_is_refused_before_any_call(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(100)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(45000 + n))
    request = QuoteRequest(indices=[Underlying.NIFTY], contracts=contracts)  # 101 calls

    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(request, AT)

    assert error.value.message == (
        "finvasia: 101 instruments need 101 GetQuotes calls (one each); a refresh is bounded to 100,"
        " Noren's documented limit being 200 requests a minute"
    )
    assert venue.calls() == [] and venue.sleeps == []
    assert venue.source(max_instruments=101).quotes(request, AT).requests == 101


def test_contracts_without_a_token_do_not_count_against_the_bound(venue: Venue) -> None:
    contracts = [_strike(100 + 50 * n) for n in range(150)]
    venue.add(contracts[0], CE_TOKEN, price="118.40")
    batch = venue.source(max_instruments=1).quotes(QuoteRequest(contracts=contracts), AT)
    assert (len(batch.quotes), batch.requests) == (1, 1)


@pytest.mark.parametrize("bound", [0, 201])
def test_a_bound_beyond_a_minutes_calls_is_a_configuration_error(venue: Venue, bound: int) -> None:
    with pytest.raises(ValueError, match=r"max_instruments must be 1\.\.200"):
        venue.source(max_instruments=bound)


def test_credentials_without_a_user_id_are_refused() -> None:
    with pytest.raises(MarketDataUnavailableError, match="finvasia: credentials need a user_id"):
        FinvasiaMarketData(BrokerCredentials(access_token=SecretStr(SESSION)), lambda exchange, symbol: None)


def test_untrusted_answers_are_dropped_and_counted(venue: Venue) -> None:
    contracts = [_strike(26000 + 100 * n) for n in range(9)]
    answers: list[dict[str, Any]] = [
        {"price": "100.50"},  # trusted
        {"lut": LUT_0930 + 36},  # 10:00:06: past the clocks' allowed skew (5 s)
        {"price": "0.00"},
        {"price": "-2.50"},
        {"price": None},
        {"lut": None},  # no time at all
        {"lut": None, "ltt": "09:59:57"},  # a time without a day
        {"lut": "soon"},  # not epoch seconds
        {"v": "-65"},  # fails validation
    ]
    for n, (contract, answer) in enumerate(zip(contracts, answers, strict=True)):
        venue.add(contract, str(45000 + n), **answer)

    batch = venue.source().quotes(QuoteRequest(contracts=contracts), AT)

    assert [quote.instrument for quote in batch.quotes] == [contracts[0].key]
    assert (batch.dropped, batch.requests) == (8, 9)


def test_a_quote_stamped_within_the_clocks_skew_is_kept(venue: Venue) -> None:
    venue.add(CE, CE_TOKEN, lut=LUT_0930 + 35)
    [quote] = venue.source().quotes(QuoteRequest(contracts=[CE]), AT).quotes
    assert quote.as_of == AT + CLOCK_SKEW_ALLOWANCE


def test_the_last_trades_day_and_time_stand_in_only_when_lut_is_missing(venue: Venue) -> None:
    other = _strike(26300)
    venue.add(CE, CE_TOKEN, lut=None, ltd="24-11-2026", ltt="09:58:10")
    venue.add(other, "45002", ltd="24-11-2026", ltt="09:58:10")
    batch = venue.source().quotes(QuoteRequest(contracts=[CE, other]), AT)
    assert {quote.instrument: quote.as_of for quote in batch.quotes} == {
        CE.key: datetime(2026, 11, 24, 9, 58, 10, tzinfo=IST),
        other.key: datetime(2026, 11, 24, 9, 59, 30, tzinfo=IST),
    }


def test_contracts_without_a_token_are_absent_and_logged_once(
    venue: Venue, caplog: pytest.LogCaptureFixture
) -> None:
    venue.add(CE, CE_TOKEN, price="118.40")
    unknown = [_strike(26300), _strike(26400)]
    with caplog.at_level(logging.WARNING):
        batch = venue.source().quotes(QuoteRequest(contracts=[CE, *unknown]), AT)
    assert [quote.instrument for quote in batch.quotes] == [CE.key]
    assert (batch.dropped, batch.requests) == (0, 1)
    assert [call["token"] for call in venue.calls()] == [CE_TOKEN]
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.count == 2  # type: ignore[attr-defined]
    assert record.examples == ["NFO:NIFTY01DEC26C26300", "NFO:NIFTY01DEC26C26400"]  # type: ignore[attr-defined]


def test_a_token_noren_has_no_data_for_is_absent_not_dropped(venue: Venue) -> None:
    other = _strike(26300)
    venue.add(CE, CE_TOKEN, price="118.40")
    venue.add(other, "45002")  # in the master, but Noren answers "no data"
    batch = venue.source().quotes(QuoteRequest(indices=[Underlying.FINNIFTY], contracts=[CE, other]), AT)
    assert [quote.instrument for quote in batch.quotes] == [CE.key]
    assert (batch.dropped, batch.requests) == (0, 3)


def test_bse_indices_and_contracts_go_by_bse_and_bfo_tokens(venue: Venue) -> None:
    sensex = _strike(85000, Underlying.SENSEX, expiry=date(2026, 11, 26), monthly=True)
    bankex = _strike(62000, Underlying.BANKEX, expiry=date(2026, 11, 26), monthly=True)
    venue.add(sensex, "1128401", price="412.30")
    venue.add(bankex, "1133977", price="385.10")
    venue.stub.quotes["BSE|1"] = _payload("84960.20")
    venue.stub.quotes["BSE|12"] = _payload("62010.50")
    assert set(venue.master) == {("BFO", "SENSEX26NOV26C85000"), ("BFO", "BANKEX26NOV26C62000")}

    request = QuoteRequest(indices=[Underlying.SENSEX, Underlying.BANKEX], contracts=[sensex, bankex])
    batch = venue.source().quotes(request, AT)

    assert [(call["exch"], call["token"]) for call in venue.calls()] == [
        ("BSE", "1"),
        ("BSE", "12"),
        ("BFO", "1128401"),
        ("BFO", "1133977"),
    ]
    assert {quote.instrument: quote.last_price for quote in batch.quotes} == {
        "SENSEX": Decimal("84960.20"),
        "BANKEX": Decimal("62010.50"),
        sensex.key: Decimal("412.30"),
        bankex.key: Decimal("385.10"),
    }


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault("/GetQuotes", status=429, body={"stat": "Not_Ok"}), "rate limited: HTTP 429"),
        (Fault("/GetQuotes", status=500, body={"stat": "Not_Ok"}), "unavailable: HTTP 500"),
        (
            Fault("/GetQuotes", status=502, body=b"<html>502</html>", content_type="text/html"),
            "unavailable: HTTP 502",
        ),
        (Fault("/GetQuotes", stall_s=STALL_S), "unavailable: no answer in"),
    ],
    ids=["429", "500", "502-html", "stall"],
)
def test_a_failed_call_raises_market_data_unavailable(venue: Venue, fault: Fault, cause: str) -> None:
    venue.add(CE, CE_TOKEN, price="118.40")
    venue.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert time.monotonic() - started < STALL_S
    assert error.value.message.startswith("finvasia: ") and cause in error.value.message


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"<html>maintenance</html>", "malformed answer: Expecting value"),
        ([{"stat": "Ok"}], "malformed answer: list indices"),
        ({"lp": "118.40"}, "malformed answer: 'stat'"),
        ({"stat": "Not_Ok"}, "request refused: request failed"),
        ({"stat": "Not_Ok", "emsg": "Invalid Input : Invalid Exchange"}, "request refused: Invalid Input"),
    ],
    ids=["not-json", "a-list", "no-stat", "not-ok-without-emsg", "invalid-input"],
)
def test_a_malformed_or_refused_answer_raises_market_data_unavailable(
    venue: Venue, body: object, cause: str
) -> None:
    venue.add(CE, CE_TOKEN, price="118.40")
    content_type = "text/html" if isinstance(body, bytes) else "application/json"
    venue.stub.faults.append(Fault("/GetQuotes", status=200, body=body, content_type=content_type))
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source().quotes(QuoteRequest(contracts=[CE]), AT)
    assert error.value.message.startswith(f"finvasia: {cause}")


def test_an_expired_session_raises_market_data_unavailable(venue: Venue) -> None:
    with pytest.raises(MarketDataUnavailableError) as error:
        venue.source(session="expired-session").quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)
    assert error.value.message == (
        "finvasia: token or permission refused: Session Expired :  Invalid Session Key"
    )
    assert "expired-session" not in error.value.message


def test_a_refused_connection_raises_market_data_unavailable(venue: Venue) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    venue.url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(MarketDataUnavailableError, match="finvasia: unavailable: cannot connect"):
        venue.source().quotes(QuoteRequest(indices=[Underlying.NIFTY]), AT)


def test_a_failure_after_a_good_call_fails_the_whole_refresh(venue: Venue) -> None:
    contracts = [_strike(26000 + 50 * n) for n in range(3)]
    for n, contract in enumerate(contracts):
        venue.add(contract, str(45000 + n), price="100.50")

    def sleep_then_fail(seconds: float) -> None:
        venue.sleeps.append(seconds)
        venue.stub.faults.append(Fault("/GetQuotes", status=500, body={"stat": "Not_Ok"}))

    with pytest.raises(MarketDataUnavailableError, match="finvasia: unavailable: HTTP 500"):
        venue.source(sleep=sleep_then_fail).quotes(QuoteRequest(contracts=contracts), AT)
    assert len(venue.calls()) == 2 and venue.sleeps == [0.3]


def test_two_sources_keep_their_own_hosts(venue: Venue) -> None:
    """The SDK keeps its host in a class attribute; each adapter's posts still go to its own."""
    venue.add(CE, CE_TOKEN, price="118.40")
    other = NorenStub(quotes={f"NFO|{CE_TOKEN}": _payload("90.00")})
    with StubHttpServer(other) as server:
        here = venue.source()
        there = Venue(stub=other, url=server.url, master=dict(venue.master)).source()
        request = QuoteRequest(contracts=[CE])
        assert [q.last_price for q in here.quotes(request, AT).quotes] == [Decimal("118.40")]
        assert [q.last_price for q in there.quotes(request, AT).quotes] == [Decimal("90.00")]
