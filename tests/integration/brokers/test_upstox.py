"""The Upstox adapter and login against a stub of Upstox's REST API on 127.0.0.1. The shared adapter
contract runs for Upstox in test_adapters.py (the `upstox` venue); here, what Upstox needs beyond
it: its order body and error codes, the algo name on every order, broker-side slicing off,
instrument keys, and the OAuth login."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.login import AppCredentials, BrokerLogin, Session
from shared_utils.brokers.models import BrokerName, DerivativesExchange, OptionInstrument, OrderState
from shared_utils.brokers.port import (
    BrokerAuthError,
    BrokerOrderNotFoundError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.brokers.symbols import zerodha as exchange_symbols
from shared_utils.brokers.upstox import UNKNOWN_INSTRUMENT
from shared_utils.brokers.upstox_login import UpstoxBrokerLogin, session_end
from shared_utils.clock import IST, FixedClock
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from tests.integration.brokers import stub_upstox
from tests.integration.brokers.conftest import CE, CLIENT_TIMEOUT_S, PE, TOKENS, Venue, make_stub, make_venue
from tests.integration.brokers.stub_server import Fault, StubHttpServer

PLACE_PATH = "/v3/order/place"
SENSEX = OptionInstrument(
    underlying=Underlying.SENSEX,
    expiry=date(2026, 11, 26),
    strike=Decimal(85000),
    option_type=OptionType.CE,
    monthly=True,
)
ALL_TOKENS = {**TOKENS, SENSEX: "1128401"}


@pytest.fixture
def server() -> Iterator[StubHttpServer]:
    with StubHttpServer(make_stub("upstox", ALL_TOKENS)) as running:
        yield running


@pytest.fixture
def venue(server: StubHttpServer) -> Venue:
    """This file's venue: the contract's (test_adapters.py) with a BSE contract listed too."""
    return make_venue("upstox", server, ALL_TOKENS)


def _places(venue: Venue) -> list[dict[str, object]]:
    return [request.json() for request in venue.stub.requests if request.path == PLACE_PATH]


# --- Upstox's side of the shared contract's cases (test_adapters.py runs the cases themselves) ---


def test_a_market_order_is_upstoxs_v3_body_and_its_status_time_is_ist(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    placed = broker.place(order)
    [booked] = venue.stub.orders
    assert placed.broker_order_id == booked.order_id
    [body] = _places(venue)
    assert body == {
        "quantity": 75,
        "product": "D",
        "validity": "DAY",
        "price": 0.0,
        "tag": order.tag,
        "slice": False,
        "instrument_token": "NSE_FO|43650",
        "order_type": "MARKET",
        "transaction_type": "BUY",
        "disclosed_quantity": 0,
        "trigger_price": 0.0,
        "is_amo": False,
    }
    status = broker.order_status(placed.broker_order_id)
    assert status.updated_at == datetime(2026, 11, 24, 9, 30, 1, tzinfo=IST)


def test_a_contract_the_lookup_does_not_know_is_rejected_unsent(venue: Venue) -> None:
    unknown = venue.order().model_copy(
        update={"instrument": CE.model_copy(update={"strike": CE.strike + 50})}
    )
    with pytest.raises(BrokerRejectedError) as error:
        venue.build().place(unknown)
    assert error.value.reason == UNKNOWN_INSTRUMENT and error.value.order_may_exist is False
    assert venue.stub.requests == []


def test_an_rms_rejection_after_acceptance_shows_in_the_status_with_its_reason(venue: Venue) -> None:
    message = "You need to add Rs. 138385.27 in your account to place this trade."
    stub = venue.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.rms_rejections[venue.symbol(CE)] = message
    broker = venue.build()
    placed = broker.place(venue.order())
    status = broker.order_status(placed.broker_order_id)
    assert (status.status, status.reason, status.filled_quantity) == (OrderState.REJECTED, message, 0)


def test_an_unreadable_200_may_have_placed(venue: Venue) -> None:
    venue.stub.faults.append(Fault(PLACE_PATH, status=200, body="<html>", content_type="text/html"))
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True


def test_an_expired_session_names_upstoxs_code_not_the_token(venue: Venue) -> None:
    with pytest.raises(BrokerAuthError) as error:
        venue.build(token="expired").place(venue.order())
    assert "UDAPI100050" in error.value.message and "expired" not in error.value.message


def test_http_403_is_an_auth_error(venue: Venue) -> None:
    venue.stub.faults.append(Fault(PLACE_PATH, status=403, body={"status": "error", "errors": []}))
    with pytest.raises(BrokerAuthError):
        venue.build().place(venue.order())
    assert venue.stub.orders == []


def test_a_limit_order_carries_its_price_and_a_second_cancel_upstoxs_refusal(venue: Venue) -> None:
    broker = venue.build()
    placed = broker.place(venue.order(limit="100.05"))
    [body] = _places(venue)
    assert (body["order_type"], body["price"]) == ("LIMIT", 100.05)
    broker.cancel(placed.broker_order_id)
    with pytest.raises(BrokerRejectedError) as error:
        broker.cancel(placed.broker_order_id)
    assert error.value.reason.startswith("UDAPI100040 Cancel of already cancelled")


def test_an_unknown_order_id_carries_upstoxs_code(venue: Venue) -> None:
    venue.build().place(venue.order())
    with pytest.raises(BrokerOrderNotFoundError, match="UDAPI100010 Order not found"):
        venue.build().order_status("999999")


def test_positions_name_the_exchange_symbol(venue: Venue) -> None:
    broker = venue.build()
    venue.hold_short_ce_long_pe(broker)
    # Upstox's positions name a contract by the exchange's symbol, not the master's
    positions = {p.tradingsymbol: p for p in broker.positions()}
    ce, pe = exchange_symbols.tradingsymbol(CE), exchange_symbols.tradingsymbol(PE)
    assert set(positions) == {ce, pe}
    assert positions[ce].exchange is DerivativesExchange.NFO
    assert positions[pe].last_price == Decimal("95.35")


def test_a_square_off_by_the_reported_symbol_sends_the_same_instrument_key(venue: Venue) -> None:
    broker = venue.build()
    venue.square_off(broker)
    assert [body["instrument_token"] for body in _places(venue)] == ["NSE_FO|43650"] * 2


def test_an_exchange_symbol_no_position_named_is_rejected_unsent(venue: Venue) -> None:
    """A fresh adapter has read no position: the lookup knows only the master's symbols."""
    exit_order = venue.exit_order(exchange_symbols.tradingsymbol(CE), DerivativesExchange.NFO)
    with pytest.raises(BrokerRejectedError) as error:
        venue.build().place(exit_order)
    assert error.value.reason == UNKNOWN_INSTRUMENT and venue.stub.requests == []


# --- what Upstox needs beyond the shared contract ---


def test_the_algo_name_goes_on_every_place_and_cancel(venue: Venue) -> None:
    broker = venue.build(algo_id="ALGO42")
    broker.place(venue.order(leg=1))
    placed = broker.place(venue.order(leg=3, limit="99.95"))
    broker.cancel(placed.broker_order_id)
    orders = [r for r in venue.stub.requests if r.path in (PLACE_PATH, "/v3/order/cancel")]
    assert [(r.method, r.headers.get("x-algo-name")) for r in orders] == [
        ("POST", "ALGO42"),
        ("POST", "ALGO42"),
        ("DELETE", "ALGO42"),
    ]
    assert all("algo" not in key for body in _places(venue) for key in body)  # a header, not a field


def test_without_an_algo_id_no_algo_header_is_sent(venue: Venue) -> None:
    venue.build().place(venue.order())
    [request] = venue.stub.requests
    assert "x-algo-name" not in request.headers


def test_broker_side_slicing_is_off_on_every_order_even_above_the_freeze_quantity(venue: Venue) -> None:
    broker = venue.build()
    big = stub_upstox.FREEZE_QUANTITY + 75 * 4  # the stub, like Upstox, would split this with slice on
    broker.place(venue.order(leg=1, quantity=big))
    broker.place(venue.order(leg=2, limit="90.10"))
    sensex = venue.order(leg=3).model_copy(update={"instrument": SENSEX})
    broker.place(sensex)
    bodies = _places(venue)
    assert [body["slice"] for body in bodies] == [False, False, False]
    assert [o.quantity for o in venue.stub.orders] == [big, 75, 75]  # one exchange order each
    assert bodies[2]["instrument_token"] == "BSE_FO|1128401"


def test_an_answer_with_several_order_ids_is_an_unknown_outcome(venue: Venue) -> None:
    body = {"status": "success", "data": {"order_ids": ["1", "2"]}, "metadata": {"latency": 9}}
    venue.stub.faults.append(Fault(PLACE_PATH, status=200, body=body))
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True and "2 exchange orders" in error.value.message


def test_the_sdk_client_starts_no_thread_pool_and_touches_no_global_logger(venue: Venue) -> None:
    """The SDK's own `ApiClient()` starts a ThreadPool per client; its `Configuration()` adds a
    stderr handler to the `urllib3` logger. Neither happens here."""
    handlers = list(logging.getLogger("urllib3").handlers)
    brokers = [venue.build() for _ in range(3)]
    brokers[0].place(venue.order())
    assert not [t for t in threading.enumerate() if type(t).__name__ == "DummyProcess"]
    assert logging.getLogger("urllib3").handlers == handlers


# --- login ---

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 09:30 IST
APP = AppCredentials(
    client_id=stub_upstox.USER_ID,
    api_key=SecretStr(stub_upstox.API_KEY),
    api_secret=SecretStr(stub_upstox.API_SECRET),
    redirect_url=stub_upstox.REDIRECT_URL,
)


def _login(server: StubHttpServer, now: datetime = NOW) -> UpstoxBrokerLogin:
    return UpstoxBrokerLogin(FixedClock(now), BrokerEndpoint(base_url=server.url, timeout_s=CLIENT_TIMEOUT_S))


def test_the_login_satisfies_the_port_and_needs_the_user() -> None:
    login = UpstoxBrokerLogin(FixedClock(NOW))
    assert isinstance(login, BrokerLogin) and login.name is BrokerName.UPSTOX
    assert login.logs_in_by_itself is False
    with pytest.raises(BrokerAuthError):
        login.login(APP, NOW)


def test_the_login_url_is_upstox_authorization_dialog() -> None:
    url = UpstoxBrokerLogin(FixedClock(NOW)).login_url(APP, "st4te-9")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "api.upstox.com",
        "/v2/login/authorization/dialog",
    )
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": [stub_upstox.API_KEY],
        "redirect_uri": [stub_upstox.REDIRECT_URL],
        "state": ["st4te-9"],
    }
    assert stub_upstox.API_SECRET not in url


def test_a_login_url_needs_the_redirect_url() -> None:
    with pytest.raises(BrokerAuthError, match="redirect URL"):
        UpstoxBrokerLogin(FixedClock(NOW)).login_url(APP.model_copy(update={"redirect_url": None}), "s")


def test_login_success_is_a_session_until_0330_ist_and_the_token_trades(server: StubHttpServer) -> None:
    stub = server.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.codes.add("mk404x")
    session = _login(server).complete(APP, {"code": "mk404x", "state": "st4te-9"})
    assert session.access_token.get_secret_value() == "upstox-session-1"
    assert session.user_id == stub_upstox.USER_ID
    assert session.expires_at == datetime(2026, 11, 25, 3, 30, tzinfo=IST)
    [request] = stub.requests
    assert (request.method, request.path) == ("POST", "/v2/login/authorization/token")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["api-version"] == "2.0" and "authorization" not in request.headers
    assert request.form() == {
        "code": "mk404x",
        "client_id": stub_upstox.API_KEY,
        "client_secret": stub_upstox.API_SECRET,
        "redirect_uri": stub_upstox.REDIRECT_URL,
        "grant_type": "authorization_code",
    }
    venue = make_venue("upstox", server, ALL_TOKENS)
    broker = venue.build(token=session.access_token.get_secret_value())
    assert broker.place(venue.order()).status is OrderState.PENDING


def test_login_with_a_wrong_secret_is_an_auth_error_and_the_code_is_spent(server: StubHttpServer) -> None:
    stub = server.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.codes.add("mk404x")
    wrong = APP.model_copy(update={"api_secret": SecretStr("not-the-secret")})
    with pytest.raises(BrokerAuthError) as error:
        _login(server).complete(wrong, {"code": "mk404x"})
    assert "UDAPI100016 Invalid Credentials" in error.value.message
    assert "not-the-secret" not in str(error.value) and stub.issued == []
    with pytest.raises(BrokerAuthError):  # Upstox: a code is good for one attempt, whatever its end
        _login(server).complete(APP, {"code": "mk404x"})


@pytest.mark.parametrize(
    ("app", "answer", "expected"),
    [
        (APP, {"code": "never-issued"}, "UDAPI100016"),
        (
            APP.model_copy(update={"redirect_url": "https://elsewhere.example/cb"}),
            {"code": "c1"},
            "UDAPI100068",
        ),
        (APP.model_copy(update={"api_key": SecretStr("other-app")}), {"code": "c1"}, "UDAPI100068"),
    ],
    ids=["bad-code", "redirect-mismatch", "wrong-client-id"],
)
def test_a_refused_code_exchange_is_an_auth_error(
    server: StubHttpServer, app: AppCredentials, answer: dict[str, str], expected: str
) -> None:
    stub = server.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.codes.add("c1")
    with pytest.raises(BrokerAuthError, match=expected):
        _login(server).complete(app, answer)


def test_a_redirect_without_a_code_is_refused_unsent(server: StubHttpServer) -> None:
    with pytest.raises(BrokerAuthError, match="no code"):
        _login(server).complete(APP, {"error": "access_denied", "state": "s"})
    assert server.stub.requests == []


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (
            Fault("/v2/login/authorization/token", status=503, body="down", content_type="text/plain"),
            BrokerUnavailableError,
        ),
        (
            Fault("/v2/login/authorization/token", status=429, body={"status": "error"}),
            BrokerRateLimitedError,
        ),
        (
            Fault("/v2/login/authorization/token", status=200, body={"status": "success"}),
            BrokerUnavailableError,
        ),
    ],
    ids=["503", "429", "no-token"],
)
def test_a_failed_code_exchange_is_not_a_session(
    server: StubHttpServer, fault: Fault, error_type: type[Exception]
) -> None:
    server.stub.faults.append(fault)
    with pytest.raises(error_type):
        _login(server).complete(APP, {"code": "c1"})


def test_logout_reaches_upstox_and_ends_the_session(server: StubHttpServer) -> None:
    stub = server.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.codes.add("c1")
    login = _login(server)
    session = login.complete(APP, {"code": "c1"})
    login.logout(APP, session)
    logout = stub.requests[-1]
    assert (logout.method, logout.path) == ("DELETE", "/v2/logout")
    assert logout.headers["authorization"] == f"Bearer {session.access_token.get_secret_value()}"
    assert stub.logged_out == {session.access_token.get_secret_value()}
    venue = make_venue("upstox", server, ALL_TOKENS)
    with pytest.raises(BrokerAuthError):
        venue.build(token=session.access_token.get_secret_value()).place(venue.order())
    login.logout(APP, session)  # a session Upstox already ended: nothing to do, no error


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (datetime(2026, 11, 24, 9, 30, tzinfo=IST), datetime(2026, 11, 25, 3, 30, tzinfo=IST)),
        (datetime(2026, 11, 24, 20, 0, tzinfo=IST), datetime(2026, 11, 25, 3, 30, tzinfo=IST)),
        (datetime(2026, 11, 25, 2, 30, tzinfo=IST), datetime(2026, 11, 25, 3, 30, tzinfo=IST)),
        (datetime(2026, 11, 25, 3, 30, tzinfo=IST), datetime(2026, 11, 26, 3, 30, tzinfo=IST)),
        (datetime(2026, 12, 31, 21, 0, tzinfo=UTC), datetime(2027, 1, 1, 3, 30, tzinfo=IST)),  # 02:30 IST
    ],
    ids=["morning", "evening", "before-0330", "at-0330", "utc-new-year"],
)
def test_the_session_ends_at_the_first_0330_ist_after_login(now: datetime, end: datetime) -> None:
    assert session_end(now) == end


def test_a_session_holds_its_token_secret(server: StubHttpServer) -> None:
    stub = server.stub
    assert isinstance(stub, stub_upstox.UpstoxStub)
    stub.codes.add("c1")
    session: Session = _login(server).complete(APP, {"code": "c1"})
    assert "upstox-session-1" not in repr(session) and "upstox-session-1" not in json.dumps(
        session.model_dump(mode="json")
    )
