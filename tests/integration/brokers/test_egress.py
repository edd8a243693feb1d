"""Per-client static-IP egress, proven on loopback: each client's orders reach the (stub) broker
from that client's own address, and an account without an egress is refused before anything
is sent.

Each client group has a forward proxy bound to its own source address (127.0.0.2, 127.0.0.3:
every 127.x.y.z is local on Linux); the Kite stub records the peer address of every request, as
a broker checks the registered static IP. Orders go through the real `ZerodhaBroker` (plain HTTP
to the stub: an absolute-URI request through the proxy); HTTPS, which every real broker uses,
goes as a CONNECT tunnel and is checked against a TLS stub with `BrokerHttpSession` itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.egress import (
    ClientEgress,
    EgressDirectory,
    EgressGroup,
    StaticEgressDirectory,
    egress_for,
    proxied_session,
    with_egress_ip,
)
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import Broker, BrokerUnavailableError
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.clock import FixedClock
from shared_utils.errors import ConfigurationError
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.models.broker_account import BrokerAccount
from tests.integration.brokers import stub_kite
from tests.integration.brokers.conftest import CLIENT_TIMEOUT_S, Venue, make_stub, make_venue
from tests.integration.brokers.egress_proxy import EgressProxy
from tests.integration.brokers.stub_kite import KiteStub
from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubHttpServer, _Handler

CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"
DEFAULT_SOURCE = "127.0.0.1"  # what a call that bypassed the proxies would come from

_peer = threading.local()


class _PeerHandler(_Handler):
    """The stub's handler, remembering the connection's peer address for the stub."""

    def _serve_with_peer(self) -> None:
        _peer.address = self.client_address[0]
        self._serve()

    do_GET = _serve_with_peer
    do_POST = _serve_with_peer
    do_PUT = _serve_with_peer
    do_DELETE = _serve_with_peer


@dataclass
class Arrival:
    peer: str
    request: Request


@dataclass
class PeerKiteStub(KiteStub):
    """The Kite stub, recording where each request came from."""

    arrivals: list[Arrival] = field(default_factory=list)

    def handle(self, request: Request) -> tuple[Response, float]:
        with self.lock:
            self.arrivals.append(Arrival(getattr(_peer, "address", "?"), request))
        return super().handle(request)

    def peers_of_orders(self) -> dict[str, str]:
        """order tag -> the address its placement came from."""
        with self.lock:
            return {
                arrival.request.form()["tag"]: arrival.peer
                for arrival in self.arrivals
                if arrival.request.method == "POST" and arrival.request.path == "/orders/regular"
            }


class PeerStubServer(StubHttpServer):
    """`StubHttpServer` with the peer-recording handler, optionally speaking TLS."""

    def __init__(self, stub: BrokerStub, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(stub)
        self._server.RequestHandlerClass = _PeerHandler
        self._tls = tls is not None
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host!s}:{port}"


def _peer_kite() -> PeerKiteStub:
    template = make_stub("zerodha")
    return PeerKiteStub(prices=template.prices)


@pytest.fixture
def kite() -> Iterator[PeerStubServer]:
    server = PeerStubServer(_peer_kite())
    with server:
        yield server


@pytest.fixture
def proxies() -> Iterator[dict[str, EgressProxy]]:
    with EgressProxy(CLIENT_A) as proxy_a, EgressProxy(CLIENT_B) as proxy_b:
        yield {CLIENT_A: proxy_a, CLIENT_B: proxy_b}


def _directory(proxies: dict[str, EgressProxy]) -> StaticEgressDirectory:
    """Client A is one user; group B is a family: two users, one address."""
    return StaticEgressDirectory(
        [
            EgressGroup(
                group_id="client-a",
                public_ip=ipaddress.ip_address(CLIENT_A),
                proxy_url=proxies[CLIENT_A].url,
                members=("user-a",),
            ),
            EgressGroup(
                group_id="family-b",
                public_ip=ipaddress.ip_address(CLIENT_B),
                proxy_url=proxies[CLIENT_B].url,
                members=("user-b", "user-b-spouse"),
            ),
        ]
    )


def _broker_for(
    venue: Venue, directory: EgressDirectory, user_id: str, account_id: str, *, required: bool = True
) -> Broker:
    """What the platform does for an account: resolve its egress (failing closed), then let the
    registry build the adapter on it (the endpoint's proxy and registered address)."""
    egress = egress_for(directory, user_id, account_id, required=required)
    credentials = BrokerCredentials(
        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
    )
    registry = BrokerRegistry(
        StaticCredentialsProvider({account_id: credentials}),
        FixedClock(datetime(2026, 11, 24, 4, 0, tzinfo=UTC)),
        config=RegistryConfig(
            endpoints={BrokerName.ZERODHA: BrokerEndpoint(base_url=venue.url, timeout_s=CLIENT_TIMEOUT_S)}
        ),
    )
    return registry.broker_for(account_id, "ZERODHA", egress=egress)


class _OneAccount:
    """The accounts table as `AccountBrokers` reads it: one live Zerodha account."""

    def __init__(self, user_id: str, account_id: str) -> None:
        self.account = BrokerAccount(user_id=user_id, broker_account_id=account_id, broker="ZERODHA")

    def get_account(self, user_id: str, broker_account_id: str) -> BrokerAccount | None:
        return self.account if broker_account_id == self.account.broker_account_id else None

    def list_accounts(
        self, user_id: str, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[BrokerAccount], str | None]:
        return [self.account], None


def test_the_order_path_resolves_each_accounts_egress_and_refuses_one_without(
    kite: PeerStubServer, proxies: dict[str, EgressProxy]
) -> None:
    venue = make_venue("zerodha", kite)
    stub: PeerKiteStub = kite.stub  # type: ignore[assignment]
    credentials = BrokerCredentials(
        api_key=SecretStr(stub_kite.API_KEY), access_token=SecretStr(stub_kite.ACCESS_TOKEN)
    )
    registry = BrokerRegistry(
        StaticCredentialsProvider({"zerodha-a": credentials, "zerodha-c": credentials}),
        FixedClock(datetime(2026, 11, 24, 4, 0, tzinfo=UTC)),
        config=RegistryConfig(
            endpoints={BrokerName.ZERODHA: BrokerEndpoint(base_url=venue.url, timeout_s=CLIENT_TIMEOUT_S)}
        ),
    )
    directory = _directory(proxies)
    own = AccountBrokers(registry, _OneAccount("user-a", "zerodha-a"), "user-a", egress=directory)
    order = venue.order(leg=1)
    own.broker_for("zerodha-a", "ZERODHA").place(order)
    assert stub.peers_of_orders() == {order.tag: CLIENT_A}
    stranger = AccountBrokers(registry, _OneAccount("user-c", "zerodha-c"), "user-c", egress=directory)
    with pytest.raises(ConfigurationError, match="no static-IP egress"):
        stranger.broker_for("zerodha-c", "ZERODHA")
    assert len(stub.orders) == 1


def _tags(venue: Venue, legs: range) -> list[str]:
    return [venue.order(leg=leg).tag for leg in legs]


def test_each_clients_orders_arrive_from_its_own_address(
    kite: PeerStubServer, proxies: dict[str, EgressProxy]
) -> None:
    venue = make_venue("zerodha", kite)
    stub: PeerKiteStub = kite.stub  # type: ignore[assignment]
    directory = _directory(proxies)
    clients = {
        "user-a": _broker_for(venue, directory, "user-a", "zerodha-a"),
        "user-b": _broker_for(venue, directory, "user-b", "zerodha-b"),
        "user-b-spouse": _broker_for(venue, directory, "user-b-spouse", "zerodha-b2"),
    }
    placed: dict[str, str] = {}  # tag -> user
    for leg in range(1, 7):  # interleaved: a, b, spouse, a, b, spouse
        user = list(clients)[(leg - 1) % 3]
        order = venue.order(leg=leg)
        clients[user].place(order)
        placed[order.tag] = user
    # Status and book reads go the same way as the orders.
    clients["user-a"].find_order_by_tag(venue.order(leg=1).tag)
    clients["user-b"].positions()

    expected = {"user-a": CLIENT_A, "user-b": CLIENT_B, "user-b-spouse": CLIENT_B}
    assert stub.peers_of_orders() == {tag: expected[user] for tag, user in placed.items()}
    assert len(stub.orders) == 6
    assert {arrival.peer for arrival in stub.arrivals} == {CLIENT_A, CLIENT_B}
    assert DEFAULT_SOURCE not in {arrival.peer for arrival in stub.arrivals}
    # Each proxy carried only its own group's calls (the client side of a proxy is 127.0.0.1).
    order_calls = [c for c in proxies[CLIENT_A].seen if c.target.endswith("/orders/regular")]
    assert len(order_calls) == 2 and all(c.method == "POST" for c in order_calls)
    assert len([c for c in proxies[CLIENT_B].seen if c.target.endswith("/orders/regular")]) == 4


def test_an_account_without_egress_is_refused_before_anything_is_sent(
    kite: PeerStubServer, proxies: dict[str, EgressProxy]
) -> None:
    venue = make_venue("zerodha", kite)
    directory = _directory(proxies)
    with pytest.raises(ConfigurationError, match="no static-IP egress"):
        _broker_for(venue, directory, "user-c", "zerodha-c")
    # Listing one account of a user does not cover the user's other accounts.
    listed_account = StaticEgressDirectory(
        [
            EgressGroup(
                group_id="client-d",
                public_ip=ipaddress.ip_address(CLIENT_A),
                proxy_url=proxies[CLIENT_A].url,
                members=("user-d/zerodha-d1",),
            )
        ]
    )
    with pytest.raises(ConfigurationError):
        _broker_for(venue, listed_account, "user-d", "zerodha-d2")
    assert kite.stub.requests == []
    assert proxies[CLIENT_A].seen == [] and proxies[CLIENT_B].seen == []


def test_without_a_requirement_an_account_without_egress_goes_direct(kite: PeerStubServer) -> None:
    """dev and the local platform: no egress is required, and none is used."""
    venue = make_venue("zerodha", kite)
    broker = _broker_for(venue, StaticEgressDirectory([]), "user-c", "zerodha-c", required=False)
    order = venue.order()
    broker.place(order)
    assert kite.stub.peers_of_orders() == {order.tag: DEFAULT_SOURCE}  # type: ignore[attr-defined]


def test_a_proxy_that_is_down_fails_closed_and_never_goes_direct(kite: PeerStubServer) -> None:
    venue = make_venue("zerodha", kite)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    directory = StaticEgressDirectory(
        [
            EgressGroup(
                group_id="client-a",
                public_ip=ipaddress.ip_address(CLIENT_A),
                proxy_url=f"http://127.0.0.1:{dead_port}",
                members=("user-a",),
            )
        ]
    )
    broker = _broker_for(venue, directory, "user-a", "zerodha-a")
    with pytest.raises(BrokerUnavailableError) as raised:
        broker.place(venue.order())
    assert raised.value.order_may_exist is False
    assert kite.stub.requests == []


def test_sdk_proxies_and_no_proxy_cannot_route_around_the_egress(
    kite: PeerStubServer, proxies: dict[str, EgressProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("HTTP_PROXY", proxies[CLIENT_B].url)
    session = BrokerHttpSession("zerodha", timeout_s=2.0, proxy_url=proxies[CLIENT_A].url)
    headers = {"Authorization": "token kite-key:kite-token"}
    session.get(f"{kite.url}/orders", headers=headers, proxies={})
    session.get(f"{kite.url}/orders", headers=headers, proxies={"http": None})  # type: ignore[dict-item]
    stub: PeerKiteStub = kite.stub  # type: ignore[assignment]
    assert [arrival.peer for arrival in stub.arrivals] == [CLIENT_A, CLIENT_A]
    assert proxies[CLIENT_B].seen == []


# --- HTTPS: a CONNECT tunnel from the client's address, TLS end to end ---------------------


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (server context, CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    # TLS checks validity against the machine's clock: a span no test date falls outside, so
    # nothing here reads the clock.
    valid_from = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    valid_until = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def build(subject: str, issuer: str, key: Any, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_until)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("egress test CA", "egress test CA", ca_key, ca_key, ca=True)
    server_cert = build("127.0.0.1", "egress test CA", server_key, ca_key, ca=False)
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file


def test_https_goes_through_a_connect_tunnel_from_the_clients_address(
    tmp_path: Path, proxies: dict[str, EgressProxy]
) -> None:
    context, ca_file = _tls(tmp_path)
    kite = PeerStubServer(_peer_kite(), tls=context)
    with kite:
        egress = ClientEgress(
            group_id="client-b", public_ip=ipaddress.ip_address(CLIENT_B), proxy_url=proxies[CLIENT_B].url
        )
        session = proxied_session(BrokerHttpSession("zerodha", timeout_s=2.0), egress)
        response = session.post(
            f"{kite.url}/orders/regular",
            data={
                "tag": "tunnelled1",
                "exchange": "NFO",
                "tradingsymbol": "NIFTY26N2424000CE",
                "transaction_type": "BUY",
                "quantity": "75",
                "product": "NRML",
                "order_type": "MARKET",
                "market_protection": "-1",
                "variety": "regular",
                "validity": "DAY",
            },
            headers={"Authorization": "token kite-key:kite-token"},
            verify=str(ca_file),
        )
        assert response.status_code == 200, response.text
        stub: PeerKiteStub = kite.stub  # type: ignore[assignment]
        assert stub.peers_of_orders() == {"tunnelled1": CLIENT_B}
        port = kite.url.rsplit(":", 1)[1]
        assert [(c.method, c.target) for c in proxies[CLIENT_B].seen] == [("CONNECT", f"127.0.0.1:{port}")]
        assert proxies[CLIENT_A].seen == []


def test_a_refused_tunnel_is_reported_as_never_sent(proxies: dict[str, EgressProxy]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    session = BrokerHttpSession("zerodha", timeout_s=2.0, proxy_url=proxies[CLIENT_A].url)
    with pytest.raises(BrokerUnavailableError) as raised:
        session.post(f"https://127.0.0.1:{dead_port}/orders/regular", data={"tag": "x"})
    assert raised.value.order_may_exist is False
    assert [c.method for c in proxies[CLIENT_A].seen] == ["CONNECT"]


# --- the directory and the helpers ---------------------------------------------------------


def _group(group_id: str, ip: str, *members: str) -> EgressGroup:
    return EgressGroup(
        group_id=group_id,
        public_ip=ipaddress.ip_address(ip),
        proxy_url=f"http://10.42.0.10:{8400 + int(ip.rsplit('.', 1)[1])}",
        members=members,
    )


def test_an_account_listed_by_itself_takes_precedence_over_its_users_group() -> None:
    directory = StaticEgressDirectory(
        [_group("family-b", "13.232.0.2", "user-b"), _group("friend-e", "13.232.0.5", "user-b/angel-e")]
    )
    assert isinstance(directory, EgressDirectory)
    assert directory.for_account("user-b", "zerodha-b").group_id == "family-b"  # type: ignore[union-attr]
    assert directory.for_account("user-b", "angel-e").group_id == "friend-e"  # type: ignore[union-attr]
    assert directory.for_account("user-x", "angel-e") is None


def test_the_published_document_is_validated() -> None:
    document = (
        '{"required": true, "groups": [{"group_id": "client-a", "public_ip": "13.232.0.2", '
        '"proxy_url": "http://10.42.0.10:8401", "members": ["user-a"]}]}'
    )
    directory = StaticEgressDirectory.from_json(document)
    assert directory.required is True
    egress = directory.for_account("user-a", "any")
    assert egress is not None and str(egress.public_ip) == "13.232.0.2"
    for broken in (
        "not json",
        '{"groups": [{"group_id": "Client A", "public_ip": "13.232.0.2", '
        '"proxy_url": "http://10.0.0.1:1", "members": ["u"]}]}',
        '{"groups": [{"group_id": "a", "public_ip": "13.232.0.2", '
        '"proxy_url": "http://10.0.0.1/path", "members": ["u"]}]}',
        '{"groups": [{"group_id": "a", "public_ip": "not-an-ip", '
        '"proxy_url": "http://10.0.0.1:1", "members": ["u"]}]}',
    ):
        with pytest.raises(ConfigurationError):
            StaticEgressDirectory.from_json(broken)


def test_a_member_in_two_groups_or_a_repeated_group_is_refused() -> None:
    with pytest.raises(ValueError, match="in groups"):
        StaticEgressDirectory([_group("a", "13.232.0.2", "user-1"), _group("b", "13.232.0.3", "user-1")])
    with pytest.raises(ValueError, match="twice"):
        StaticEgressDirectory([_group("a", "13.232.0.2", "user-1"), _group("a", "13.232.0.3", "user-2")])


def test_a_session_bound_to_one_egress_cannot_be_moved_to_another() -> None:
    first, second = _group("a", "13.232.0.2", "u1").egress(), _group("b", "13.232.0.3", "u2").egress()
    session = proxied_session(BrokerHttpSession("zerodha"), first)
    assert proxied_session(session, first) is session  # the same egress again is fine
    with pytest.raises(ConfigurationError):
        proxied_session(session, second)
    assert session.proxy_url == first.proxy_url and session.trust_env is False


def test_the_endpoint_announces_the_registered_address() -> None:
    egress = _group("a", "13.232.0.2", "u1").egress()
    endpoint = with_egress_ip(BrokerEndpoint(algo_id="ALGO1"), egress)
    assert (endpoint.client_public_ip, endpoint.algo_id) == ("13.232.0.2", "ALGO1")


def test_a_plain_session_is_unchanged() -> None:
    session = BrokerHttpSession("zerodha")
    assert session.proxy_url is None and session.trust_env is True and session.proxies == {}
    assert isinstance(session, requests.Session)
