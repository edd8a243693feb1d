"""Reliability-suite helpers: a moto *server* on loopback for real concurrency, and re-exports of
the API fixtures.

moto is not transactional under concurrency, in process *or* over HTTP: `ThreadedMotoServer`
handles requests on parallel threads, and a cancelled `TransactWriteItems` restores a snapshot
of the table taken before it, wiping writes other threads committed meanwhile (seen here: a
basket counting 10 strategies while holding 9 or 12). DynamoDB makes each request atomic and
isolated; `AtomicMotoServer` gives moto the same property by handling one request at a time,
while the 50 clients still race over real HTTP with real threads between their reads and writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from shared_utils.settings import RuntimeSettings
from shared_utils.tables import ALL_TABLES
from tests.conftest import TEST_PREFIX, TEST_REGION
from tests.integration.api.conftest import api, build_world, seed_broker_account  # noqa: F401
from tests.reliability.timer_harness import order_log, trading_day  # noqa: F401


class MotoServer:
    """A DynamoDB-compatible HTTP endpoint on 127.0.0.1 with the stack's tables."""

    def __init__(self, endpoint: str, settings: RuntimeSettings) -> None:
        self.endpoint = endpoint
        self.settings = settings

    def client(self) -> Any:
        # A pool as large as the thread pool: 50 workers share one thread-safe boto3 client.
        return boto3.client(
            "dynamodb",
            region_name=TEST_REGION,
            endpoint_url=self.endpoint,
            config=Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 3}),
        )


class AtomicMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose backend handles one request at a time (DynamoDB's per-request
    atomicity); connections and clients stay concurrent."""

    def _server_entry(self) -> None:
        backend = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            with lock:
                return list(backend(environ, start_response))

        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def _server() -> Iterator[str]:
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(_server: str, test_settings: RuntimeSettings) -> Iterator[MotoServer]:
    """Fresh tables on the shared loopback server for each test."""
    server = MotoServer(_server, test_settings)
    client = server.client()
    for definition in ALL_TABLES:
        client.create_table(**definition.create_table_kwargs(definition.name(TEST_PREFIX)))
    yield server
    requests.post(f"{_server}/moto-api/reset", timeout=10)


@pytest.fixture
def server_api(
    moto_server: MotoServer, platform_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The `api(...)` caller of the integration suite, with the handlers' DynamoDB client pointed
    at the loopback server (no `mock_aws`: nothing in process answers in the server's place)."""
    from shared_utils.settings import load_settings
    from tests.conftest import install_platform
    from tests.events import api_event
    from tests.integration.api.conftest import invoke, module_for

    for key, value in moto_server.settings.as_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", moto_server.endpoint)
    load_settings.cache_clear()
    install_platform(load_settings(), platform_clock, None)  # the client a cold start builds

    def call(method: str, resource: str, /, **kwargs: Any) -> Any:
        params = {key: kwargs.pop(key) for key in list(kwargs) if "{" + key + "}" in resource}
        event = api_event(method, resource.format(**params), resource=resource, **kwargs)
        return invoke(module_for(method, resource), event)

    yield call
    load_settings.cache_clear()
