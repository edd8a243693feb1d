"""The Dhan adapter (real `dhanhq` SDK) and its login against the stub DhanHQ API on 127.0.0.1:
every case of the shared adapter contract, then what Dhan needs beyond it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.dhan import DhanBroker
from shared_utils.brokers.dhan_login import DhanBrokerLogin
from shared_utils.brokers.login import AppCredentials, BrokerLogin
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderState
from shared_utils.brokers.port import (
    Broker,
    BrokerAuthError,
    BrokerOrderNotFoundError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from shared_utils.brokers.symbols import dhan as dhan_symbols
from shared_utils.clock import IST, FixedClock
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Action, OptionType, Product
from tests.integration.brokers import stub_dhan
from tests.integration.brokers.conftest import CE, CLIENT_TIMEOUT_S, PE, STALL_S, TOKENS, Venue, _clock
from tests.integration.brokers.stub_dhan import Contract, DhanStub
from tests.integration.brokers.stub_server import Fault, StubHttpServer

PLACE_PATH = "/v2/orders"
SENSEX = OptionInstrument(
    underlying=Underlying.SENSEX, expiry=date(2026, 11, 26), strike=Decimal(85000), option_type=OptionType.PE
)
SENSEX_TOKEN = "1100470"
# What Dhan's order request documents (https://dhanhq.co/docs/v2/orders/): no algo-id field.
ORDER_FIELDS = {
    "dhanClientId",
    "correlationId",
    "transactionType",
    "exchangeSegment",
    "productType",
    "orderType",
    "validity",
    "securityId",
    "quantity",
    "disclosedQuantity",
    "price",
    "triggerPrice",
    "afterMarketOrder",
    "amoTime",
    "boProfitValue",
    "boStopLossValue",
}


def _contract(instrument: OptionInstrument) -> Contract:
    segment = "BSE_FNO" if instrument.underlying is Underlying.SENSEX else "NSE_FNO"
    return Contract(
        instrument.underlying.value,
        instrument.expiry,
        instrument.strike,
        instrument.option_type.value,
        segment,
    )


def _lookup() -> Callable[[str, str], str | None]:
    table = {("NFO", dhan_symbols.tradingsymbol(i)): token for i, token in TOKENS.items()}
    table[("BFO", dhan_symbols.tradingsymbol(SENSEX))] = SENSEX_TOKEN
    return lambda exchange, tradingsymbol: table.get((exchange, tradingsymbol))


def _stub() -> DhanStub:
    contracts = {token: _contract(i) for i, token in TOKENS.items()} | {SENSEX_TOKEN: _contract(SENSEX)}
    stub = DhanStub(contracts=contracts)
    stub.prices = {dhan_symbols.tradingsymbol(CE): 120.5, dhan_symbols.tradingsymbol(PE): 95.35}
    return stub


def _builder(url: str) -> Callable[..., DhanBroker]:
    def build(
        token: str = stub_dhan.ACCESS_TOKEN,
        timeout_s: float = CLIENT_TIMEOUT_S,
        base_url: str = url,
        algo_id: str | None = None,
    ) -> DhanBroker:
        creds = BrokerCredentials(user_id=stub_dhan.CLIENT_ID, access_token=SecretStr(token))
        endpoint = BrokerEndpoint(base_url=base_url, timeout_s=timeout_s, algo_id=algo_id)
        return DhanBroker(creds, _clock(), _lookup(), endpoint)

    return build


@pytest.fixture
def venue() -> Iterator[Venue]:
    stub = _stub()
    with StubHttpServer(stub) as server:
        yield Venue(BrokerName.DHAN, stub, server.url, dhan_symbols.tradingsymbol, _builder(server.url))


def _stub_of(venue: Venue) -> DhanStub:
    assert isinstance(venue.stub, DhanStub)
    return venue.stub


def _dhan(venue: Venue) -> DhanBroker:
    broker = venue.build()
    assert isinstance(broker, DhanBroker)
    return broker


def _bodies(venue: Venue, path: str = PLACE_PATH, method: str = "POST") -> list[dict[str, object]]:
    return [r.json() for r in venue.stub.requests if r.path == path and r.method == method]


# --- the shared adapter contract -----------------------------------------------------------------


def test_adapter_satisfies_the_port(venue: Venue) -> None:
    assert isinstance(venue.build(), Broker)
    assert venue.build().name is BrokerName.DHAN


def test_place_then_status_and_lookup_by_tag(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    placed = broker.place(order)
    assert placed.status is OrderState.PENDING and placed.tag == order.tag  # TRANSIT
    [booked] = venue.stub.orders
    assert (booked.tag, booked.symbol, booked.quantity, booked.side) == (
        order.tag,
        venue.symbol(CE),
        75,
        "BUY",
    )
    [sent] = _bodies(venue)
    assert (sent["securityId"], sent["exchangeSegment"], sent["correlationId"]) == (
        "43650",
        "NSE_FNO",
        order.tag,
    )
    assert (sent["productType"], sent["orderType"], sent["validity"], sent["price"]) == (
        "MARGIN",
        "MARKET",
        "DAY",
        0.0,
    )
    status = broker.order_status(placed.broker_order_id)
    assert status.status is OrderState.COMPLETE
    assert (status.filled_quantity, status.average_price) == (75, Decimal("120.50"))
    assert status.updated_at == datetime(2026, 11, 24, 9, 30, 1, tzinfo=IST)
    assert broker.find_order_by_tag(order.tag) == status
    assert broker.find_order_by_tag("ABSENTTAG") is None


def test_rejection_is_definitive_with_the_broker_reason(venue: Venue) -> None:
    venue.stub.unknown_symbols.add(venue.symbol(CE))
    with pytest.raises(BrokerRejectedError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is False
    assert "symbol" in error.value.reason.lower() and error.value.reason.startswith("DH-905")
    assert venue.stub.orders == []


def test_timeout_is_reconciled_by_tag_without_a_second_order(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    venue.stub.faults.append(Fault(PLACE_PATH, stall_s=STALL_S))
    started = time.monotonic()
    with pytest.raises(BrokerTimeoutError) as error:
        broker.place(order)
    assert time.monotonic() - started < STALL_S
    assert error.value.order_may_exist is True
    found = broker.find_order_by_tag(order.tag)
    assert found is not None and found.status is OrderState.COMPLETE
    assert len(venue.stub.orders) == 1 and found.broker_order_id == venue.stub.orders[0].order_id
    assert len(_bodies(venue)) == 1  # never resent


def test_429_is_rate_limited_and_nothing_is_booked(venue: Venue) -> None:
    venue.stub.faults.append(Fault(PLACE_PATH, status=429, body={"message": "Too many requests"}))
    with pytest.raises(BrokerRateLimitedError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is False and error.value.code == "BROKER_RATE_LIMITED"
    assert venue.stub.orders == []


def test_dh_904_is_rate_limited_too(venue: Venue) -> None:
    body = {"errorType": "Rate_Limit", "errorCode": "DH-904", "errorMessage": "Too many requests"}
    venue.stub.faults.append(Fault(PLACE_PATH, status=400, body=body))
    with pytest.raises(BrokerRateLimitedError):
        venue.build().place(venue.order())


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable_and_may_have_placed(venue: Venue, status: int) -> None:
    venue.stub.faults.append(
        Fault(PLACE_PATH, status=status, body="<html>down</html>", content_type="text/html")
    )
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True


@pytest.mark.parametrize("code", ["DH-908", "DH-909", "DH-910"])
def test_dhan_server_side_errors_may_have_placed(venue: Venue, code: str) -> None:
    body = {"errorType": "Internal_Server_Error", "errorCode": code, "errorMessage": "try again"}
    venue.stub.faults.append(Fault(PLACE_PATH, status=400, body=body))
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True


def test_unreadable_4xx_answer_to_a_placement_may_have_placed(venue: Venue) -> None:
    venue.stub.faults.append(
        Fault(PLACE_PATH, status=400, body="<html>bad gateway</html>", content_type="text/html")
    )
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True


def test_504_is_an_unknown_outcome(venue: Venue) -> None:
    venue.stub.faults.append(Fault(PLACE_PATH, status=504, body="gateway", content_type="text/html"))
    with pytest.raises(BrokerTimeoutError):
        venue.build().place(venue.order())


def test_refused_connection_is_unavailable_and_certainly_not_placed(venue: Venue) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    broker = venue.build(base_url=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(BrokerUnavailableError) as error:
        broker.place(venue.order())
    assert error.value.order_may_exist is False


def test_expired_session_is_an_auth_error(venue: Venue) -> None:
    with pytest.raises(BrokerAuthError):
        venue.build(token="expired").place(venue.order())
    with pytest.raises(BrokerAuthError):
        venue.build(token="expired").positions()
    assert venue.stub.orders == []


def test_limit_order_rests_and_cancels(venue: Venue) -> None:
    broker = venue.build()
    placed = broker.place(venue.order(limit="100.05"))
    assert _bodies(venue)[0]["price"] == 100.05 and _bodies(venue)[0]["orderType"] == "LIMIT"
    assert broker.order_status(placed.broker_order_id).status is OrderState.OPEN
    assert broker.cancel(placed.broker_order_id).status is OrderState.CANCELLED
    with pytest.raises(BrokerRejectedError) as error:
        broker.cancel(placed.broker_order_id)
    assert error.value.reason.startswith("DH-906")


def test_unknown_order_id_is_not_found(venue: Venue) -> None:
    venue.build().place(venue.order())
    with pytest.raises(BrokerOrderNotFoundError):
        venue.build().order_status("999999")


def test_positions_and_quotes(venue: Venue) -> None:
    broker = venue.build()
    broker.place(venue.order(leg=1, side=Action.SELL, quantity=150))
    broker.place(venue.order(leg=2, side=Action.BUY, quantity=75))
    positions = {p.tradingsymbol: p for p in broker.positions()}
    assert positions[venue.symbol(CE)].quantity == -150
    assert positions[venue.symbol(CE)].average_price == Decimal("120.50")  # sellAvg of a short
    assert positions[venue.symbol(PE)].quantity == 75
    assert positions[venue.symbol(PE)].average_price == Decimal("95.35")
    assert (
        positions[venue.symbol(PE)].instrument == PE and positions[venue.symbol(PE)].product is Product.NRML
    )
    quotes = broker.quote([CE, PE])
    assert quotes[CE.key].last_price == Decimal("120.50") and quotes[PE.key].last_price == Decimal("95.35")
    [asked] = _bodies(venue, "/v2/marketfeed/ltp")
    assert asked["NSE_FNO"] == [43650, 43651]


def test_square_off_by_the_symbol_positions_report(venue: Venue) -> None:
    broker = venue.build()
    broker.place(venue.order(leg=1, side=Action.SELL, quantity=75))
    position = next(p for p in broker.positions() if p.quantity)
    exit_order = venue.order(leg=5, side=Action.BUY, quantity=75).model_copy(
        update={"instrument": None, "tradingsymbol": position.tradingsymbol, "segment": position.exchange}
    )
    broker.place(exit_order)
    assert [o.symbol for o in venue.stub.orders] == [venue.symbol(CE)] * 2
    assert {p.tradingsymbol: p.quantity for p in broker.positions()}[venue.symbol(CE)] == 0


# --- what Dhan needs beyond the contract --------------------------------------------------------


def test_dhan_has_no_algo_id_field_so_a_configured_one_is_not_sent(venue: Venue) -> None:
    broker = venue.build(algo_id="ALGO42")
    broker.place(venue.order(leg=1))
    broker.place(venue.order(leg=3, limit="99.95"))
    for body in _bodies(venue):
        assert set(body) <= ORDER_FIELDS
        assert "ALGO42" not in json.dumps(body)
    assert len(venue.stub.orders) == 2


def test_broker_side_slicing_is_off_on_every_order(venue: Venue) -> None:
    broker = venue.build()
    above_freeze = stub_dhan.FREEZE_QUANTITY + 150
    broker.place(venue.order(leg=1, quantity=above_freeze))
    broker.place(venue.order(leg=3, quantity=75, limit="99.95"))
    assert [r.path for r in venue.stub.requests if r.method == "POST"] == [PLACE_PATH, PLACE_PATH]
    assert not any("slicing" in r.path for r in venue.stub.requests)
    first = venue.stub.orders[0]
    assert first.quantity == above_freeze  # one exchange order for the one tag, as sent


def test_unknown_contract_is_rejected_unsent(venue: Venue) -> None:
    unknown = venue.order().model_copy(
        update={"instrument": CE.model_copy(update={"strike": CE.strike + 50})}
    )
    with pytest.raises(BrokerRejectedError) as error:
        venue.build().place(unknown)
    assert error.value.reason == "UNKNOWN_INSTRUMENT"
    assert venue.stub.requests == []


def test_bse_contract_goes_to_bse_fno_intraday(venue: Venue) -> None:
    order = venue.order().model_copy(update={"instrument": SENSEX, "product": Product.MIS})
    venue.build().place(order)
    [sent] = _bodies(venue)
    assert (sent["securityId"], sent["exchangeSegment"], sent["productType"]) == (
        SENSEX_TOKEN,
        "BSE_FNO",
        "INTRADAY",
    )


def test_lookup_by_tag_falls_back_to_the_order_book(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    placed = broker.place(order)
    body = {"errorType": "Data_Error", "errorCode": "DH-907", "errorMessage": "no data"}
    venue.stub.faults.append(Fault("/orders/external/", status=400, body=body))
    found = broker.find_order_by_tag(order.tag)
    assert found is not None and found.broker_order_id == placed.broker_order_id
    paths = [r.path for r in venue.stub.requests if r.method == "GET"]
    assert paths == [f"/v2/orders/external/{order.tag}", "/v2/orders"]


def test_lookup_by_tag_does_not_swallow_auth_or_transport_errors(venue: Venue) -> None:
    broker = venue.build()
    venue.stub.faults.append(Fault("/orders/external/", status=503, body="down", content_type="text/html"))
    with pytest.raises(BrokerUnavailableError):
        broker.find_order_by_tag("ANYTAG")
    with pytest.raises(BrokerAuthError):
        venue.build(token="expired").find_order_by_tag("ANYTAG")


def test_a_position_whose_security_id_differs_from_the_master_keeps_dhans_symbol(venue: Venue) -> None:
    broker = venue.build()
    broker.place(venue.order(leg=1, side=Action.SELL, quantity=75))
    stub = _stub_of(venue)
    stub.contracts = {"99999" if sid == "43650" else sid: c for sid, c in stub.contracts.items()}
    [position] = [p for p in broker.positions() if p.quantity]
    assert position.tradingsymbol == "NIFTY-Nov2026-24000-CE" and position.instrument is None


def test_quotes_of_more_than_1000_instruments_are_asked_1000_at_a_time(venue: Venue) -> None:
    contracts = [CE.model_copy(update={"strike": Decimal(10000 + 50 * n)}) for n in range(1001)]
    tokens = {("NFO", dhan_symbols.tradingsymbol(c)): str(70000 + n) for n, c in enumerate(contracts)}
    sleeps: list[float] = []
    broker = DhanBroker(
        BrokerCredentials(user_id=stub_dhan.CLIENT_ID, access_token=SecretStr(stub_dhan.ACCESS_TOKEN)),
        _clock(),
        lambda exchange, symbol: tokens.get((exchange, symbol)),
        BrokerEndpoint(base_url=venue.url, timeout_s=CLIENT_TIMEOUT_S),
        sleep=sleeps.append,
    )
    assert broker.quote(contracts) == {}
    assert [len(b["NSE_FNO"]) for b in _bodies(venue, "/v2/marketfeed/ltp")] == [1000, 1]  # type: ignore[arg-type]
    assert sleeps == [1.0]


def test_a_missing_client_id_fails_before_anything_is_sent() -> None:
    with pytest.raises(BrokerAuthError):
        DhanBroker(BrokerCredentials(access_token=SecretStr("t")), _clock(), _lookup())


def test_kill_switch_is_activated_with_no_open_position(venue: Venue) -> None:
    broker = _dhan(venue)
    assert "activated" in broker.activate_kill_switch()
    [request] = [r for r in venue.stub.requests if r.path == "/v2/killswitch"]
    assert request.method == "POST" and request.query == {"killSwitchStatus": ["ACTIVATE"]}
    with pytest.raises(BrokerRejectedError):
        broker.place(venue.order())  # the day's trading is off


def test_kill_switch_is_refused_while_a_position_is_open(venue: Venue) -> None:
    broker = _dhan(venue)
    broker.place(venue.order())
    with pytest.raises(BrokerRejectedError) as error:
        broker.activate_kill_switch()
    assert error.value.reason.startswith("DH-906")
    assert _stub_of(venue).kill_switch is False


def test_pnl_exit_is_configured_and_stopped(venue: Venue) -> None:
    broker = _dhan(venue)
    assert broker.set_pnl_exit(Decimal("1500"), Decimal("500.50")) == "ACTIVE"
    [sent] = _bodies(venue, "/v2/pnlExit")
    assert sent == {
        "profitValue": 1500.0,
        "lossValue": 500.5,
        "productType": ["DELIVERY", "INTRADAY"],
        "enableKillSwitch": True,
        "dhanClientId": stub_dhan.CLIENT_ID,
    }
    assert broker.stop_pnl_exit() == "DISABLED" and _stub_of(venue).pnl_exit is None
    with pytest.raises(ValueError):
        broker.set_pnl_exit(Decimal("0"), Decimal("500"))
    broker.set_pnl_exit(Decimal("100"), Decimal("100"), [Product.MIS], enable_kill_switch=False)
    assert _stub_of(venue).pnl_exit == {
        "profitValue": 100.0,
        "lossValue": 100.0,
        "productType": ["INTRADAY"],
        "enableKillSwitch": False,
        "dhanClientId": stub_dhan.CLIENT_ID,
    }


# --- login -------------------------------------------------------------------------------------


def _app(secret: str = stub_dhan.APP_SECRET, client_id: str = stub_dhan.CLIENT_ID) -> AppCredentials:
    return AppCredentials(
        client_id=client_id, api_key=SecretStr(stub_dhan.APP_ID), api_secret=SecretStr(secret)
    )


@pytest.fixture
def login_stub() -> Iterator[tuple[DhanStub, DhanBrokerLogin, FixedClock]]:
    stub = _stub()
    clock = FixedClock(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))  # 08:30 IST
    with StubHttpServer(stub) as server:
        yield (
            stub,
            DhanBrokerLogin(clock, BrokerEndpoint(base_url=server.url, timeout_s=CLIENT_TIMEOUT_S)),
            clock,
        )


def test_login_satisfies_the_port_and_needs_the_user(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    _, login, clock = login_stub
    assert isinstance(login, BrokerLogin) and login.name is BrokerName.DHAN
    assert login.logs_in_by_itself is False
    with pytest.raises(BrokerAuthError):
        login.login(_app(), clock.now())


def test_login_success_gives_a_session_with_its_expiry(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, _ = login_stub
    url = login.login_url(_app(), state="s-1")
    [consent] = stub.consents
    assert url.endswith(f"/login/consentApp-login?consentAppId={consent}")
    [generate] = stub.requests
    assert (generate.method, generate.query) == ("POST", {"client_id": [stub_dhan.CLIENT_ID]})
    token_id = stub.user_logs_in(consent)
    session = login.complete(_app(), {"tokenId": token_id})
    assert session.access_token.get_secret_value() == stub_dhan.ISSUED_TOKEN
    assert session.user_id == stub_dhan.CLIENT_ID
    assert session.expires_at == datetime(2026, 11, 25, 8, 0, tzinfo=IST)  # Dhan's expiryTime, IST
    with pytest.raises(BrokerAuthError):  # a tokenId is spent once
        login.complete(_app(), {"tokenId": token_id})


def test_session_expiry_is_never_past_24_hours(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, clock = login_stub
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=IST))
    login.login_url(_app(), state="s")
    stub_dhan_expiry = datetime(2026, 11, 25, 8, 0, tzinfo=IST)
    session = login.complete(_app(), {"tokenId": stub.user_logs_in(next(iter(stub.consents)))})
    assert session.expires_at == stub_dhan_expiry == clock.now() + timedelta(hours=24)
    clock.set(datetime(2026, 11, 24, 6, 0, tzinfo=IST))
    session = login.complete(_app(), {"tokenId": stub.user_logs_in(next(iter(stub.consents)))})
    assert session.expires_at == clock.now() + timedelta(hours=24)


def test_login_with_a_wrong_secret_is_an_auth_error(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, _ = login_stub
    with pytest.raises(BrokerAuthError) as error:
        login.login_url(_app(secret="wrong"), state="s")
    assert "wrong" not in error.value.message and stub.consents == {}
    login.login_url(_app(), state="s")
    token_id = stub.user_logs_in(next(iter(stub.consents)))
    with pytest.raises(BrokerAuthError):
        login.complete(_app(secret="wrong"), {"tokenId": token_id})


def test_a_bad_or_missing_token_id_is_an_auth_error(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    _, login, _ = login_stub
    with pytest.raises(BrokerAuthError):
        login.complete(_app(), {"tokenId": "forged"})
    with pytest.raises(BrokerAuthError):
        login.complete(_app(), {})


def test_a_login_by_another_dhan_client_is_refused(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, _ = login_stub
    login.login_url(_app(client_id="1100099999"), state="s")
    token_id = stub.user_logs_in(next(iter(stub.consents)))
    with pytest.raises(BrokerAuthError):
        login.complete(_app(), {"tokenId": token_id})


def test_logout_sends_nothing_as_dhan_has_no_logout(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, _ = login_stub
    login.login_url(_app(), state="s")
    session = login.complete(_app(), {"tokenId": stub.user_logs_in(next(iter(stub.consents)))})
    sent = len(stub.requests)
    login.logout(_app(), session)
    assert len(stub.requests) == sent


def test_login_transport_failures_are_not_auth_errors(
    login_stub: tuple[DhanStub, DhanBrokerLogin, FixedClock],
) -> None:
    stub, login, _ = login_stub
    stub.faults.append(Fault("/app/generate-consent", status=503, body="down", content_type="text/html"))
    with pytest.raises(BrokerUnavailableError):
        login.login_url(_app(), state="s")
