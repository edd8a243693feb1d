"""The same contract for every SDK adapter: success, rejection, timeout then reconciliation by
tag, 429, 5xx, refused connection and expired session, each against the broker's stub API."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest

from shared_utils.brokers.models import OrderState
from shared_utils.brokers.port import (
    Broker,
    BrokerAuthError,
    BrokerOrderNotFoundError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from tests.integration.brokers.conftest import CE, PE, STALL_S, Venue
from tests.integration.brokers.stub_server import Fault, Request

PLACE_PATH = {
    "ZERODHA": "/orders/regular",
    "ANGEL_ONE": "placeOrder",
    "FINVASIA": "PlaceOrder",
    "UPSTOX": "/v3/order/place",
    "DHAN": "/v2/orders",
}


def _placements(venue: Venue) -> list[Request]:
    return [r for r in venue.stub.requests if r.method == "POST" and PLACE_PATH[venue.name.value] in r.path]


def test_adapter_satisfies_the_port(venue: Venue) -> None:
    assert isinstance(venue.build(), Broker)
    assert venue.build().name is venue.name


def test_place_then_status_and_lookup_by_tag(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    placed = broker.place(order)
    assert placed.status is OrderState.PENDING and placed.tag == order.tag
    [booked] = venue.stub.orders
    assert (booked.tag, booked.symbol, booked.quantity, booked.side) == (
        order.tag,
        venue.symbol(CE),
        75,
        "BUY",
    )
    status = broker.order_status(placed.broker_order_id)
    assert status.status is OrderState.COMPLETE
    assert (status.filled_quantity, status.average_price) == (75, Decimal("120.50"))
    assert status.updated_at is not None and status.updated_at.tzinfo is not None
    assert broker.find_order_by_tag(order.tag) == status
    assert broker.find_order_by_tag("ABSENTTAG") is None


def test_rejection_is_definitive_with_the_broker_reason(venue: Venue) -> None:
    venue.stub.unknown_symbols.add(venue.symbol(CE))
    with pytest.raises(BrokerRejectedError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is False
    assert venue.unknown_contract.lower() in error.value.reason.lower()
    assert venue.stub.orders == []


def test_timeout_is_reconciled_by_tag_without_a_second_order(venue: Venue) -> None:
    broker = venue.build()
    order = venue.order()
    venue.stub.faults.append(Fault(PLACE_PATH[venue.name.value], stall_s=STALL_S))
    started = time.monotonic()
    with pytest.raises(BrokerTimeoutError) as error:
        broker.place(order)
    assert time.monotonic() - started < STALL_S
    assert error.value.order_may_exist is True
    found = broker.find_order_by_tag(order.tag)
    assert found is not None and found.status is OrderState.COMPLETE
    assert len(venue.stub.orders) == 1 and found.broker_order_id == venue.stub.orders[0].order_id
    place_path = PLACE_PATH[venue.name.value]
    assert (
        len([r for r in venue.stub.requests if r.method == "POST" and place_path in r.path]) == 1
    )  # never resent


def test_429_is_rate_limited_and_nothing_is_booked(venue: Venue) -> None:
    venue.stub.faults.append(
        Fault(PLACE_PATH[venue.name.value], status=429, body={"message": "Too many requests"})
    )
    with pytest.raises(BrokerRateLimitedError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is False and error.value.code == "BROKER_RATE_LIMITED"
    assert venue.stub.orders == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable_and_may_have_placed(venue: Venue, status: int) -> None:
    venue.stub.faults.append(
        Fault(PLACE_PATH[venue.name.value], status=status, body="<html>down</html>", content_type="text/html")
    )
    with pytest.raises(BrokerUnavailableError) as error:
        venue.build().place(venue.order())
    assert error.value.order_may_exist is True


def test_504_is_an_unknown_outcome(venue: Venue) -> None:
    venue.stub.faults.append(
        Fault(PLACE_PATH[venue.name.value], status=504, body="gateway", content_type="text/html")
    )
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
    assert venue.stub.orders == []


def test_limit_order_rests_and_cancels(venue: Venue) -> None:
    broker = venue.build()
    placed = broker.place(venue.order(limit="100.05"))
    assert broker.order_status(placed.broker_order_id).status is OrderState.OPEN
    assert broker.cancel(placed.broker_order_id).status is OrderState.CANCELLED
    with pytest.raises(BrokerRejectedError):
        broker.cancel(placed.broker_order_id)


def test_unknown_order_id_is_not_found(venue: Venue) -> None:
    venue.build().place(venue.order())
    with pytest.raises(BrokerOrderNotFoundError):
        venue.build().order_status("999999")


def test_positions(venue: Venue) -> None:
    broker = venue.build()
    venue.hold_short_ce_long_pe(broker)
    positions = {p.tradingsymbol: p for p in broker.positions()}
    assert positions[venue.position_symbol(CE)].quantity == -150
    assert positions[venue.position_symbol(PE)].quantity == 75
    assert positions[venue.position_symbol(PE)].average_price == Decimal("95.35")


def test_square_off_by_the_symbol_positions_report(venue: Venue) -> None:
    broker = venue.build()
    venue.square_off(broker)
    assert [o.symbol for o in venue.stub.orders] == [venue.symbol(CE)] * 2
    assert {p.tradingsymbol: p.quantity for p in broker.positions()}[venue.position_symbol(CE)] == 0
