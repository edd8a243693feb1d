"""What each broker needs beyond the shared contract, checked on the wire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.circuit import CircuitState
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import (
    BrokerAuthError,
    BrokerCircuitOpenError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.brokers.zerodha import ZerodhaBroker
from tests.integration.brokers import stub_kite
from tests.integration.brokers.conftest import CE, STATIC_IP, _clock, make_stub, make_venue
from tests.integration.brokers.stub_server import Fault, StubHttpServer


def test_zerodha_sends_market_protection_for_market_orders_only_and_the_algo_id() -> None:
    with StubHttpServer(make_stub("zerodha")) as server:
        venue = make_venue("zerodha", server)
        creds = BrokerCredentials(
            api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
        )
        broker = ZerodhaBroker(
            creds, _clock(), BrokerEndpoint(base_url=server.url, timeout_s=1, algo_id="ALGO42")
        )
        broker.place(venue.order(leg=1))
        broker.place(venue.order(leg=3, limit="99.95"))
        market, limit = (request.form() for request in server.stub.requests)
        assert market["market_protection"] == "-1" and market["algo_id"] == "ALGO42"
        assert market["variety"] == "regular" and len(market["tag"]) == 20
        assert "market_protection" not in limit and limit["price"] == "99.95"


def test_angel_one_sends_the_static_ip_and_rejects_unknown_contracts_unsent() -> None:
    with StubHttpServer(make_stub("angel_one")) as server:
        venue = make_venue("angel_one", server)
        broker = venue.build()
        broker.place(venue.order())
        [request] = server.stub.requests
        assert request.headers["x-clientpublicip"] == STATIC_IP
        assert request.json()["symboltoken"] == "43650" and len(request.json()["ordertag"]) == 15
        unknown = venue.order().model_copy(
            update={"instrument": CE.model_copy(update={"strike": CE.strike + 50})}
        )
        with pytest.raises(BrokerRejectedError) as error:
            broker.place(unknown)
        assert error.value.reason == "UNKNOWN_INSTRUMENT"
        assert len(server.stub.requests) == 1


def test_finvasia_adapters_keep_their_own_hosts_although_the_sdk_shares_one() -> None:
    with StubHttpServer(make_stub("finvasia")) as first, StubHttpServer(make_stub("finvasia")) as second:
        one, two = make_venue("finvasia", first), make_venue("finvasia", second)
        broker_one, broker_two = one.build(), two.build()  # the second build re-points the SDK's host
        broker_one.place(one.order(leg=1))
        broker_two.place(two.order(leg=3))
        assert [o.tag for o in first.stub.orders] == [one.order(leg=1).tag]
        assert [o.tag for o in second.stub.orders] == [two.order(leg=3).tag]


def test_registry_circuit_opens_after_repeated_5xx_and_stops_calling_the_broker() -> None:
    with StubHttpServer(make_stub("zerodha")) as server:
        venue = make_venue("zerodha", server)
        clock = _clock()
        registry = BrokerRegistry(
            StaticCredentialsProvider(
                {
                    "z1": BrokerCredentials(
                        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
                    )
                }
            ),
            clock,
            config=RegistryConfig(
                endpoints={BrokerName.ZERODHA: BrokerEndpoint(base_url=server.url, timeout_s=1)},
                circuit_failure_threshold=2,
                circuit_cool_down=timedelta(seconds=30),
            ),
        )
        server.stub.faults += [
            Fault("/orders", status=503, body="down", content_type="text/html") for _ in range(2)
        ]
        broker = registry.broker_for("z1", "ZERODHA")
        for _ in range(2):
            with pytest.raises(BrokerUnavailableError):
                broker.place(venue.order())
        with pytest.raises(BrokerCircuitOpenError):
            registry.broker_for("z1", "ZERODHA").find_order_by_tag(venue.order().tag)
        assert len(server.stub.requests) == 2
        snapshot = registry.circuit_state("z1")
        assert snapshot is not None and snapshot.state is CircuitState.OPEN
        assert snapshot.last_failure_code == "BROKER_UNAVAILABLE"
        clock.advance(timedelta(seconds=30))
        assert registry.broker_for("z1", "ZERODHA").find_order_by_tag(venue.order().tag) is None
        assert registry.circuit_state("z1").state is CircuitState.CLOSED  # type: ignore[union-attr]


def test_angel_one_http_403_is_an_auth_error_and_unreadable_200_is_unavailable() -> None:
    with StubHttpServer(make_stub("angel_one")) as server:
        venue = make_venue("angel_one", server)
        server.stub.faults.append(Fault("placeOrder", status=403, body={"message": "Forbidden"}))
        with pytest.raises(BrokerAuthError):
            venue.build().place(venue.order())
        server.stub.faults.append(Fault("placeOrder", status=200, body="<html>", content_type="text/html"))
        with pytest.raises(BrokerUnavailableError) as error:
            venue.build().place(venue.order())
        assert error.value.order_may_exist is True
