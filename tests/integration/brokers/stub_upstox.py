"""Upstox API v2/v3 as `upstox_client` sees it: JSON `{"status": "success", "data": ...}`, and a 4xx
`{"status": "error", "errors": [{"error_code", "message", "property_path", "invalid_value"}]}`
(with the deprecated camelCase twins) for a refusal.

Orders name a contract by its instrument key (`NSE_FO|<token>`); the order book, positions and LTP
quotes name it by the exchange's symbol (`exchange_symbols`), as Upstox's documented samples do;
the shared order book's `symbol` is the master's. Error codes are Upstox's documented ones where
it documents them (UDAPI100050 invalid token, UDAPI100010 order not found, UDAPI100040 cancel of a
finished order, UDAPI1087 invalid instrument key, UDAPI100043 too many keys, UDAPI100016 invalid
credentials, UDAPI100068 client id / redirect URI, UDAPI100015 no API version, UDAPI100036 invalid
input); the HTTP status of each 4xx is the stub's guess where the docs say only "4XX".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

ACCESS_TOKEN = "upstox-access-token"
API_KEY, API_SECRET = "upstox-app-key", "upstox-app-secret"
REDIRECT_URL = "https://platform.example/brokers/upstox/callback"
USER_ID = "7ABC12"
FREEZE_QUANTITY = 1800  # NIFTY's, per Upstox's option-contract sample: what `slice: true` splits at
MAX_LTP_KEYS = 500  # LTP quotes V3: at most 500 instrument keys a request
TIMESTAMP = "2026-11-24 09:30:01"
_PRODUCTS = {"I": "MIS", "D": "NRML"}
_EXCHANGES = {"NSE_FO": "NFO", "BSE_FO": "BFO"}
_REQUIRED = (
    "quantity",
    "product",
    "validity",
    "price",
    "instrument_token",
    "order_type",
    "transaction_type",
    "disclosed_quantity",
    "trigger_price",
    "is_amo",
)


def _ok(data: object, **extra: object) -> Response:
    return Response(200, {"status": "success", "data": data, **extra})


def _error(status: int, code: str, message: str) -> Response:
    entry = {
        "error_code": code,
        "message": message,
        "property_path": None,
        "invalid_value": None,
        "errorCode": code,
        "propertyPath": None,
        "invalidValue": None,
    }
    return Response(status, {"status": "error", "errors": [entry]})


@dataclass
class UpstoxStub(BrokerStub):
    tokens: dict[str, str] = field(default_factory=dict)  # token -> master trading symbol
    exchange_symbols: dict[str, str] = field(default_factory=dict)  # token -> the exchange's symbol
    # symbol -> Upstox's RMS message: the order is accepted, then rejected (as a margin shortfall is)
    rms_rejections: dict[str, str] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)  # authorization codes not used yet
    issued: list[str] = field(default_factory=list)  # access tokens the token endpoint gave out
    logged_out: set[str] = field(default_factory=set)
    order_keys: dict[str, str] = field(default_factory=dict)  # order id -> instrument key

    def _token_valid(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        return token is not None and token in {ACCESS_TOKEN, *self.issued} - self.logged_out

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/v2/login/authorization/token" and request.method == "POST":
            return self._token(request.form())
        if not self._token_valid(request):
            return _error(401, "UDAPI100050", "Invalid token used to access API")
        if path == "/v2/logout" and request.method == "DELETE":
            self.logged_out.add(request.headers["authorization"].removeprefix("Bearer "))
            return _ok(True)
        if path == "/v3/order/place" and request.method == "POST":
            return self._place(request.json())
        if path == "/v3/order/cancel" and request.method == "DELETE":
            return self._cancel(request.query.get("order_id", [""])[-1])
        if path == "/v2/order/details" and request.method == "GET":
            order = self.find(request.query.get("order_id", [""])[-1])
            if order is None:
                return _error(400, "UDAPI100010", "Order not found")
            return _ok(self._render(order))
        if path == "/v3/market-quote/ltp" and request.method == "GET":
            return self._ltp(request.query.get("instrument_key", [""])[-1])
        if request.headers.get("api-version") != "2.0":
            return _error(400, "UDAPI100015", "API Version does not exist")
        if path == "/v2/order/retrieve-all" and request.method == "GET":
            return _ok([self._render(order) for order in self.orders])
        if path == "/v2/portfolio/short-term-positions" and request.method == "GET":
            return _ok(self._positions())
        return _error(404, "UDAPI10000", "This request is not supported by Upstox API")

    def _token(self, form: dict[str, str]) -> Response:
        code = form.get("code", "")
        known = code in self.codes
        self.codes.discard(code)  # one use, whether or not the exchange succeeds
        if form.get("client_id") != API_KEY or form.get("redirect_uri") != REDIRECT_URL:
            return _error(
                400, "UDAPI100068", "Check your 'client_id' and 'redirect_uri'; one or both are incorrect."
            )
        if form.get("client_secret") != API_SECRET:
            return _error(401, "UDAPI100016", "Invalid Credentials")
        if not known or form.get("grant_type") != "authorization_code":
            return _error(400, "UDAPI100016", "Invalid Credentials")
        token = f"upstox-session-{len(self.issued) + 1}"
        self.issued.append(token)
        return Response(
            200,
            {
                "email": "trader@example.com",
                "exchanges": ["NSE", "NFO", "BSE", "CDS", "BFO", "BCD"],
                "products": ["D", "CO", "I"],
                "broker": "UPSTOX",
                "user_id": USER_ID,
                "user_name": "A Trader",
                "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
                "user_type": "individual",
                "poa": False,
                "is_active": True,
                "access_token": token,
                "extended_token": None,
            },
        )

    def _contract(self, key: object) -> tuple[str, str, str] | None:
        """(exchange, token, master symbol) of an instrument key the stub lists."""
        segment, _, token = str(key).partition("|")
        symbol = self.tokens.get(token)
        if segment not in _EXCHANGES or symbol is None or symbol in self.unknown_symbols:
            return None
        return _EXCHANGES[segment], token, symbol

    def _place(self, body: dict[str, Any]) -> Response:
        missing = [name for name in _REQUIRED if body.get(name) is None]
        if missing or body["product"] not in _PRODUCTS or body["validity"] != "DAY":
            return _error(400, "UDAPI100036", f"Invalid Input: {', '.join(missing) or 'product/validity'}")
        contract = self._contract(body["instrument_token"])
        if contract is None:
            return _error(400, "UDAPI1087", "Invalid Instrument key")
        exchange, _, symbol = contract
        quantity = int(body["quantity"])
        # Upstox's auto slicing: `slice: true` splits at the freeze quantity, every part with the tag.
        parts = math.ceil(quantity / FREEZE_QUANTITY) if body.get("slice") is True else 1
        order_ids = []
        for part in range(parts):
            size = min(FREEZE_QUANTITY, quantity - part * FREEZE_QUANTITY) if parts > 1 else quantity
            order = self.book(
                StubOrder(
                    order_id=f"2611240{len(self.orders) + 1:08d}",
                    tag=str(body.get("tag") or ""),
                    symbol=symbol,
                    exchange=exchange,
                    side=body["transaction_type"],
                    quantity=size,
                    order_type=body["order_type"],
                    price=float(body["price"]),
                    product=_PRODUCTS[body["product"]],
                )
            )
            if symbol in self.rms_rejections:
                order.status, order.filled, order.average_price = "REJECTED", 0, 0.0
                order.reason = self.rms_rejections[symbol]
            self.order_keys[order.order_id] = str(body["instrument_token"])
            order_ids.append(order.order_id)
        return _ok({"order_ids": order_ids}, metadata={"latency": 12})

    def _cancel(self, order_id: str) -> Response:
        order = self.find(order_id)
        if order is None:
            return _error(400, "UDAPI100010", "Order not found")
        if order.status != "OPEN":
            return _error(
                400, "UDAPI100040", "Cancel of already cancelled/rejected/completed order is not allowed"
            )
        order.status = "CANCELLED"
        return _ok({"order_id": order_id}, metadata={"latency": 8})

    def _exchange_symbol(self, order: StubOrder) -> str:
        token = self.order_keys[order.order_id].partition("|")[2]
        return self.exchange_symbols.get(token, order.symbol)

    def _render(self, order: StubOrder) -> dict[str, Any]:
        symbol = self._exchange_symbol(order)
        return {
            "exchange": order.exchange,
            "product": next(k for k, v in _PRODUCTS.items() if v == order.product),
            "price": order.price,
            "quantity": order.quantity,
            "status": order.status.lower(),
            "guid": None,
            "tag": order.tag or None,
            "instrument_token": self.order_keys[order.order_id],
            "placed_by": USER_ID,
            "trading_symbol": symbol,
            "tradingsymbol": symbol,
            "order_type": order.order_type,
            "validity": "DAY",
            "trigger_price": 0,
            "disclosed_quantity": 0,
            "transaction_type": order.side,
            "average_price": order.average_price,
            "filled_quantity": order.filled,
            "pending_quantity": order.quantity - order.filled if order.status == "OPEN" else 0,
            "status_message": order.reason or None,
            "status_message_raw": f"RMS:{order.reason}" if order.reason else None,
            "exchange_order_id": f"1100000{order.order_id[-8:]}" if order.status != "REJECTED" else None,
            "parent_order_id": None,
            "order_id": order.order_id,
            "variety": "SIMPLE",
            "order_timestamp": TIMESTAMP,
            "exchange_timestamp": TIMESTAMP,
            "is_amo": False,
            "order_request_id": "1",
            "order_ref_id": f"ref-{order.order_id}",
        }

    def _positions(self) -> list[dict[str, Any]]:
        rows = []
        for symbol, (order, quantity, average) in self.net_positions().items():
            last = self.prices.get(symbol, 100.0)
            rows.append(
                {
                    "exchange": order.exchange,
                    "multiplier": 1.0,
                    "value": -quantity * average,
                    "pnl": 0.0,
                    "product": next(k for k, v in _PRODUCTS.items() if v == order.product),
                    "instrument_token": self.order_keys[order.order_id],
                    "average_price": average,
                    "buy_value": 0.0,
                    "overnight_quantity": 0,
                    "quantity": quantity,
                    "last_price": last,
                    "unrealised": 0.0,
                    "realised": 0.0,
                    "sell_value": 0.0,
                    "trading_symbol": self._exchange_symbol(order),
                    "tradingsymbol": self._exchange_symbol(order),
                    "close_price": last,
                }
            )
        return rows

    def _ltp(self, keys_text: str) -> Response:
        keys = [key for key in keys_text.split(",") if key]
        if not keys:
            return _error(400, "UDAPI1009", "instrument_key is required")
        if len(keys) > MAX_LTP_KEYS:
            return _error(400, "UDAPI100043", "Maximum instrument key limit exceeded")
        data: dict[str, Any] = {}
        for key in keys:
            contract = self._contract(key)
            if contract is None or contract[2] not in self.prices:
                continue  # an unknown key or one without a trade: absent from the answer
            segment, token = key.partition("|")[0], contract[1]
            data[f"{segment}:{self.exchange_symbols.get(token, contract[2])}"] = {
                "last_price": self.prices[contract[2]],
                "instrument_token": key,
                "ltq": 75,
                "volume": 170325,
                "cp": 98.5,
            }
        return _ok(data)
