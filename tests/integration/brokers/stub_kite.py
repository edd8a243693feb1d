"""Kite Connect v3 REST as the `kiteconnect` SDK sees it (form posts, `{"status","data"}` JSON)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

API_KEY, ACCESS_TOKEN = "kite-key", "kite-token"
API_SECRET, REQUEST_TOKEN = "kite-secret", "kite-request-token"
MAX_QUOTE_INSTRUMENTS = 500  # /quote's documented limit


def _error(status: int, message: str, error_type: str) -> Response:
    return Response(status, {"status": "error", "message": message, "data": None, "error_type": error_type})


def _ok(data: object) -> Response:
    return Response(200, {"status": "success", "data": data})


@dataclass
class KiteStub(BrokerStub):
    # `GET /quote`: `exchange:tradingsymbol` -> that instrument's full-quote payload, as Kite sends it.
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # `GET /instruments/{exchange}`: the instrument dump, CSV as Kite serves it.
    instruments: dict[str, str] = field(default_factory=dict)
    logged_out: int = 0

    def _render(self, order: StubOrder) -> dict[str, object]:
        return {
            "order_id": order.order_id,
            "status": order.status,
            "status_message": order.reason or None,
            "tag": order.tag,
            "tags": [order.tag],
            "tradingsymbol": order.symbol,
            "exchange": order.exchange,
            "transaction_type": order.side,
            "quantity": order.quantity,
            "filled_quantity": order.filled,
            "average_price": order.average_price,
            "order_timestamp": "2026-11-24 09:30:00",
            "exchange_update_timestamp": "2026-11-24 09:30:01",
        }

    def route(self, request: Request) -> Response:
        if request.path == "/session/token":
            return self._session(request)
        if request.headers.get("authorization") != f"token {API_KEY}:{ACCESS_TOKEN}":
            return _error(403, "Incorrect `api_key` or `access_token`.", "TokenException")
        path, method = request.path, request.method
        if method == "POST" and path == "/orders/regular":
            return self._place(request.form())
        if method == "GET" and path == "/orders":
            return _ok([self._render(order) for order in self.orders])
        if match := re.fullmatch(r"/orders/(\w+)", path):
            order = self.find(match.group(1))
            if order is None:
                return _error(400, "Couldn't find that `order_id`.", "InputException")
            return _ok([{**self._render(order), "status": "OPEN PENDING"}, self._render(order)])
        if method == "DELETE" and (match := re.fullmatch(r"/orders/regular/(\w+)", path)):
            order = self.find(match.group(1))
            if order is None or order.status != "OPEN":
                return _error(400, "Order cannot be cancelled as it is being processed.", "OrderException")
            order.status = "CANCELLED"
            return _ok({"order_id": order.order_id})
        if path == "/portfolio/positions":
            net = [
                {
                    "tradingsymbol": symbol,
                    "exchange": order.exchange,
                    "product": order.product,
                    "quantity": quantity,
                    "average_price": average,
                    "last_price": self.prices.get(symbol, 100.0),
                    "realised": 0,
                }
                for symbol, (order, quantity, average) in self.net_positions().items()
            ]
            return _ok({"net": net, "day": net})
        if method == "GET" and (match := re.fullmatch(r"/instruments/(\w+)", path)):
            dump = self.instruments.get(match.group(1))
            if dump is None:
                return _error(404, "Route not found", "GeneralException")
            return Response(200, dump, "text/csv")
        if method == "GET" and path == "/quote":
            return self._quote(request.query.get("i", []))
        if path == "/quote/ltp":
            names = request.query.get("i", [])
            return _ok(
                {
                    name: {"instrument_token": 1, "last_price": self.prices[name.split(":", 1)[1]]}
                    for name in names
                    if name.split(":", 1)[1] in self.prices
                }
            )
        return _error(404, "Route not found", "GeneralException")

    def _session(self, request: Request) -> Response:
        """`POST`: the request token's exchange, checked by checksum; `DELETE`: the logout."""
        if request.method == "DELETE":
            form = request.query if request.query else {k: [v] for k, v in request.form().items()}
            if form.get("access_token", [""])[-1] != ACCESS_TOKEN:
                return _error(403, "Invalid session.", "TokenException")
            self.logged_out += 1
            return _ok(True)
        form = request.form()
        expected = hashlib.sha256(f"{API_KEY}{REQUEST_TOKEN}{API_SECRET}".encode()).hexdigest()
        if form.get("request_token") != REQUEST_TOKEN:
            return _error(403, "Token is invalid or has expired.", "TokenException")
        if form.get("checksum") != expected:
            return _error(403, "Invalid `checksum`.", "TokenException")
        return _ok(
            {
                "user_id": "ZR1234",
                "access_token": ACCESS_TOKEN,
                "login_time": "2026-11-24 08:45:01",
                "api_key": API_KEY,
            }
        )

    def _quote(self, names: list[str]) -> Response:
        """Known names only: Kite leaves out an instrument it has no data for."""
        if not names:
            message = "At least one instrument in the format `exchange:tradingsymbol` is required."
            return _error(400, message, "InputException")
        if len(names) > MAX_QUOTE_INSTRUMENTS:
            return _error(400, f"Too many instruments (max {MAX_QUOTE_INSTRUMENTS}).", "InputException")
        return _ok({name: self.quotes[name] for name in names if name in self.quotes})

    def _place(self, form: dict[str, str]) -> Response:
        tag = form.get("tag", "")
        if len(tag) > 20 or not tag.isalnum():
            return _error(400, "`tag` should be alphanumeric and max 20 characters", "InputException")
        if form["order_type"] == "MARKET" and form.get("market_protection") is None:
            return _error(400, "`market_protection` is required for market orders", "InputException")
        if form["tradingsymbol"] in self.unknown_symbols:
            return _error(400, "Invalid `tradingsymbol`.", "InputException")
        order = self.book(
            StubOrder(
                order_id=f"2611240000{len(self.orders) + 1:05d}",
                tag=tag,
                symbol=form["tradingsymbol"],
                exchange=form["exchange"],
                side=form["transaction_type"],
                quantity=int(form["quantity"]),
                order_type=form["order_type"],
                price=float(form.get("price") or 0),
                product=form["product"],
            )
        )
        return _ok({"order_id": order.order_id})
