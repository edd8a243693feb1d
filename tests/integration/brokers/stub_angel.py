"""Angel One SmartAPI REST as `SmartConnect` sees it (JSON bodies; status, message, errorcode, data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

API_KEY, JWT = "angel-key", "angel-jwt"
CLIENT_CODE, PIN = "A123456", "4321"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # base32, as Angel's enrolment page shows one
BASE = "/rest/secure/angelbroking"
MAX_QUOTE_TOKENS = 50  # /quote's documented limit
_PRODUCTS = {"INTRADAY": "MIS", "CARRYFORWARD": "NRML"}


def _fail(message: str, code: str) -> Response:
    return Response(200, {"status": False, "message": message, "errorcode": code, "data": None})


def _ok(data: object) -> Response:
    return Response(200, {"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


@dataclass
class AngelStub(BrokerStub):
    tokens: dict[str, str] = field(default_factory=dict)  # symboltoken -> tradingsymbol
    # The TOTP the login must carry (the test computes it from TOTP_SECRET at its clock's time).
    expected_totp: str = ""
    logged_out: int = 0
    # `/market/v1/quote`: `exchange:symboltoken` -> that instrument's FULL-mode entry, as Angel sends
    # it in `data.fetched`; a token found neither here nor in `tokens`/`prices` is `unfetched`.
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _render(self, order: StubOrder) -> dict[str, object]:
        return {
            "orderid": order.order_id,
            "uniqueorderid": f"u-{order.order_id}",
            "ordertag": order.tag,
            "tradingsymbol": order.symbol,
            "exchange": order.exchange,
            "transactiontype": order.side,
            "quantity": str(order.quantity),
            "filledshares": str(order.filled),
            "averageprice": order.average_price,
            "status": order.status.lower(),
            "orderstatus": order.status.lower(),
            "text": order.reason,
            "updatetime": "24-Nov-2026 09:30:01",
        }

    def route(self, request: Request) -> Response:
        if request.path == "/rest/auth/angelbroking/user/v1/loginByPassword":
            if request.headers.get("x-privatekey") != API_KEY:
                return _fail("Invalid API Key", "AG8004")
            return self._login(request.json())
        if (
            request.path == f"{BASE}/user/v1/logout"
            and request.headers.get("authorization") == f"Bearer {JWT}"
        ):
            self.logged_out += 1
            return _ok(None)
        if (
            request.headers.get("authorization") != f"Bearer {JWT}"
            or request.headers.get("x-privatekey") != API_KEY
        ):
            return _fail("Invalid Token", "AG8001")
        path = request.path
        if path == f"{BASE}/order/v1/placeOrder":
            return self._place(request.json())
        if path == f"{BASE}/order/v1/getOrderBook":
            return _ok([self._render(order) for order in self.orders] or None)
        if path == f"{BASE}/order/v1/cancelOrder":
            order = self.find(request.json()["orderid"])
            if order is None or order.status != "OPEN":
                return _fail("Order not found or not open", "AB2002")
            order.status = "CANCELLED"
            return _ok({"orderid": order.order_id})
        if path == f"{BASE}/order/v1/getPosition":
            return _ok(
                [
                    {
                        "tradingsymbol": symbol,
                        "exchange": order.exchange,
                        "producttype": next(k for k, v in _PRODUCTS.items() if v == order.product),
                        "netqty": str(quantity),
                        "avgnetprice": str(average),
                        "ltp": str(self.prices.get(symbol, 100.0)),
                        "realised": "0",
                    }
                    for symbol, (order, quantity, average) in self.net_positions().items()
                ]
            )
        if path == f"{BASE}/market/v1/quote":
            return self._quote(request.json())
        return Response(404, "not found", "text/html")

    def _quote(self, body: dict[str, Any]) -> Response:
        asked = [(exchange, token) for exchange, tokens in body["exchangeTokens"].items() for token in tokens]
        if len(asked) > MAX_QUOTE_TOKENS:
            return _fail(f"Too many tokens (max {MAX_QUOTE_TOKENS})", "STUB50")
        fetched: list[dict[str, Any]] = []
        unfetched: list[dict[str, Any]] = []
        for exchange, token in asked:
            entry = self.quotes.get(f"{exchange}:{token}")
            if entry is not None:
                fetched.append({**entry, "exchange": exchange, "symbolToken": token})
            elif token in self.tokens and self.tokens[token] in self.prices:
                symbol = self.tokens[token]
                fetched.append(
                    {
                        "exchange": exchange,
                        "tradingSymbol": symbol,
                        "symbolToken": token,
                        "ltp": self.prices[symbol],
                    }
                )
            else:  # the entry's fields beyond exchange and token are the stub's guess
                unfetched.append(
                    {"exchange": exchange, "symbolToken": token, "message": "No data", "errorCode": ""}
                )
        return _ok({"fetched": fetched, "unfetched": unfetched})

    def _place(self, body: dict[str, str]) -> Response:
        if len(body.get("ordertag", "")) > 20:
            return _fail("Ordertag length should not exceed 20 characters", "AB4008")
        if (
            self.tokens.get(body["symboltoken"]) != body["tradingsymbol"]
            or body["tradingsymbol"] in self.unknown_symbols
        ):
            return _fail("Invalid symbol token", "AB1019")
        order = self.book(
            StubOrder(
                order_id=f"2611240{len(self.orders) + 1:08d}",
                tag=body.get("ordertag", ""),
                symbol=body["tradingsymbol"],
                exchange=body["exchange"],
                side=body["transactiontype"],
                quantity=int(body["quantity"]),
                order_type=body["ordertype"],
                price=float(body["price"]),
                product=_PRODUCTS[body["producttype"]],
            )
        )
        return _ok(
            {"script": order.symbol, "orderid": order.order_id, "uniqueorderid": f"u-{order.order_id}"}
        )

    def _login(self, body: dict[str, str]) -> Response:
        if body.get("clientcode") != CLIENT_CODE or body.get("password") != PIN:
            return _fail("Invalid clientcode or password", "AB1007")
        if body.get("totp") != self.expected_totp:
            return _fail("Invalid totp", "AB1050")
        return _ok({"jwtToken": JWT, "refreshToken": "angel-refresh", "feedToken": "angel-feed"})
