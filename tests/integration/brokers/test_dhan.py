"""The Dhan adapter (real `dhanhq` SDK) and its login against the stub DhanHQ API on 127.0.0.1. The
shared adapter contract runs for Dhan in test_adapters.py (the `dhan` venue); here, what Dhan
needs beyond it: its order body and error codes, no algo field, slicing off, the order-book
fallback, the kill switch and P&L exit, and the consent login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.dhan import DhanBroker
from shared_utils.brokers.dhan_login import DhanBrokerLogin
from shared_utils.brokers.login import AppCredentials, BrokerLogin
from shared_utils.brokers.models import BrokerName, OptionInstrument
from shared_utils.brokers.port import (
    BrokerAuthError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.clock import IST, FixedClock
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Product
from tests.integration.brokers import stub_dhan
from tests.integration.brokers.conftest import (
    CE,
    CLIENT_TIMEOUT_S,
    PE,
    TOKENS,
    Venue,
    _clock,
    make_stub,
    make_venue,
)
from tests.integration.brokers.stub_dhan import DhanStub
from tests.integration.brokers.stub_server import Fault, StubHttpServer

PLACE_PATH = "/v2/orders"
SENSEX = OptionInstrument(
    underlying=Underlying.SENSEX, expiry=date(2026, 11, 26), strike=Decimal(85000), option_type=OptionType.PE
)
SENSEX_TOKEN = "1100470"
ALL_TOKENS = {**TOKENS, SENSEX: SENSEX_TOKEN}
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


@pytest.fixture
def venue() -> Iterator[Venue]:
    """This file's venue: the contract's (test_adapters.py) with a BSE contract listed too."""
    with StubHttpServer(make_stub("dhan", ALL_TOKENS)) as server:
        yield make_venue("dhan", server, ALL_TOKENS)


def _stub_of(venue: Venue) -> DhanStub:
    assert isinstance(venue.stub, DhanStub)
    return venue.stub


def _dhan(venue: Venue) -> DhanBroker:
    broker = venue.build()
    assert isinstance(broker, DhanBroker)
    return broker


def _bodies(venue: Venue, path: str = PLACE_PATH, method: str = "POST") -> list[dict[str, object]]:
    return [r.json() for r in venue.stub.requests if r.path == path and r.method == method]


# --- Dhan's side of the shared contract's cases (test_adapters.py runs the cases themselves) -----


def test_a_market_order_is_dhans_body_and_its_status_time_is_ist(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    placed = broker.place(order)
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
    assert status.updated_at == datetime(2026, 11, 24, 9, 30, 1, tzinfo=IST)


def test_dh_904_is_rate_limited_too(venue: Venue) -> None:
    body = {"errorType": "Rate_Limit", "errorCode": "DH-904", "errorMessage": "Too many requests"}
    venue.stub.faults.append(Fault(PLACE_PATH, status=400, body=body))
    with pytest.raises(BrokerRateLimitedError):
        venue.build().place(venue.order())


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


def test_an_expired_session_fails_reads_too(venue: Venue) -> None:
    with pytest.raises(BrokerAuthError):
        venue.build(token="expired").positions()


def test_a_limit_order_carries_its_price_and_a_second_cancel_dhans_refusal(venue: Venue) -> None:
    broker = venue.build()
    placed = broker.place(venue.order(limit="100.05"))
    assert _bodies(venue)[0]["price"] == 100.05 and _bodies(venue)[0]["orderType"] == "LIMIT"
    broker.cancel(placed.broker_order_id)
    with pytest.raises(BrokerRejectedError) as error:
        broker.cancel(placed.broker_order_id)
    assert error.value.reason.startswith("DH-906")


def test_positions_carry_the_short_average_instrument_and_product(venue: Venue) -> None:
    broker = venue.build()
    venue.hold_short_ce_long_pe(broker)
    positions = {p.tradingsymbol: p for p in broker.positions()}
    assert positions[venue.symbol(CE)].average_price == Decimal("120.50")  # sellAvg of a short
    assert (
        positions[venue.symbol(PE)].instrument == PE and positions[venue.symbol(PE)].product is Product.NRML
    )


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


def test_a_missing_client_id_fails_before_anything_is_sent() -> None:
    with pytest.raises(BrokerAuthError):
        DhanBroker(BrokerCredentials(access_token=SecretStr("t")), _clock(), lambda exchange, symbol: None)


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
    stub = make_stub("dhan", ALL_TOKENS)
    assert isinstance(stub, DhanStub)
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
