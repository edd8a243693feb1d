"""A tiny HTTP server on 127.0.0.1 that answers like a broker's REST API, with injectable faults.

Each broker stub subclasses `BrokerStub` and implements `route()`. A queued `Fault` applies to
the next request whose path contains `path_contains`: answer with a status and body, or
process the request normally and then stall past the client's timeout (the order exists, the
client never hears of it: the case reconciliation by tag is for).
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Response:
    status: int
    body: Any
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Fault:
    path_contains: str
    status: int | None = None
    body: Any = None
    content_type: str = "application/json"
    stall_s: float = 0.0


@dataclass
class StubOrder:
    order_id: str
    tag: str
    symbol: str
    exchange: str
    side: str
    quantity: int
    order_type: str
    price: float
    product: str
    status: str = "OPEN"
    filled: int = 0
    average_price: float = 0.0
    reason: str = ""


@dataclass
class BrokerStub(ABC):
    """Order book and prices shared by the broker stubs; subclasses speak each broker's dialect."""

    faults: list[Fault] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: list[StubOrder] = field(default_factory=list)
    prices: dict[str, float] = field(default_factory=dict)
    unknown_symbols: set[str] = field(default_factory=set)

    @abstractmethod
    def route(self, request: Request) -> Response: ...

    def book(self, order: StubOrder) -> StubOrder:
        """Fill a MARKET order at the symbol's price; a LIMIT order rests OPEN."""
        if order.order_type in ("MARKET", "MKT"):
            order.status, order.filled = "COMPLETE", order.quantity
            order.average_price = self.prices.get(order.symbol, 100.0)
        self.orders.append(order)
        return order

    def find(self, order_id: str) -> StubOrder | None:
        return next((order for order in self.orders if order.order_id == order_id), None)

    def net_positions(self) -> dict[str, tuple[StubOrder, int, float]]:
        """symbol -> (an order for its fields, net quantity, average price of the buys)."""
        net: dict[str, tuple[StubOrder, int, float]] = {}
        for order in self.orders:
            if order.status != "COMPLETE":
                continue
            _, quantity, average = net.get(order.symbol, (order, 0, 0.0))
            signed = order.filled if order.side in ("BUY", "B") else -order.filled
            net[order.symbol] = (order, quantity + signed, order.average_price or average)
        return net

    def handle(self, request: Request) -> tuple[Response, float]:
        with self.lock:
            self.requests.append(request)
            fault = next((f for f in self.faults if f.path_contains in request.path), None)
            if fault is not None:
                self.faults.remove(fault)
            if fault is not None and fault.status is not None:
                return Response(fault.status, fault.body or {}, fault.content_type), 0.0
            return self.route(request), fault.stall_s if fault else 0.0


class _Handler(BaseHTTPRequestHandler):
    stub: BrokerStub

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            body=self.rfile.read(length) if length else b"",
            headers={key.lower(): value for key, value in self.headers.items()},
        )
        response, stall = self.server.stub.handle(request)  # type: ignore[attr-defined]
        if stall:
            time.sleep(stall)
        payload = response.encoded()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


class StubHttpServer:
    def __init__(self, stub: BrokerStub) -> None:
        self.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.stub = stub  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StubHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
