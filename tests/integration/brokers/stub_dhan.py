"""DhanHQ API v2 as the `dhanhq` SDK sees it (https://dhanhq.co/docs/v2/): JSON bodies, the
`access-token` and `client-id` headers, errors as `{"errorType", "errorCode", "errorMessage"}`.

Documented shapes: order placement and its answer `{"orderId", "orderStatus"}`, the order book
rows (orderId, correlationId, orderStatus, securityId, filledQty, averageTradedPrice,
omsErrorDescription, updateTime ...), positions rows (securityId, exchangeSegment, productType,
buyAvg, sellAvg, netQty, realizedProfit, drv* fields), `/marketfeed/ltp`, the kill switch, the
P&L based exit and the consent login. The stub's guesses (not documented): the exact error
messages, the answer of `/orders/external/{id}` and `/orders/{id}` for an unknown id (an
error, DH-907), the auth host's error bodies, and the format of `drvExpiryDate`.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

CLIENT_ID, ACCESS_TOKEN = "1100012345", "dhan-access-token"
APP_ID, APP_SECRET = "dhan-app-id", "dhan-app-secret"
ISSUED_TOKEN = "dhan-issued-token"
TOKEN_EXPIRY = "2026-11-25T08:00:00"  # what the stub's consumeApp-consent says (IST)
MAX_QUOTE_INSTRUMENTS = 1000
FREEZE_QUANTITY = 1800  # what /orders/slicing cuts at (NIFTY)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_PRODUCTS = {"INTRADAY": "MIS", "MARGIN": "NRML"}
_STATUS = {"OPEN": "PENDING", "COMPLETE": "TRADED", "CANCELLED": "CANCELLED", "REJECTED": "REJECTED"}


@dataclass(frozen=True)
class Contract:
    """One listed option as the stub's scrip master knows it."""

    name: str  # NIFTY, SENSEX ...
    expiry: date
    strike: Decimal
    kind: str  # CE / PE
    segment: str  # NSE_FNO / BSE_FNO

    @property
    def display(self) -> str:  # SEM_CUSTOM_SYMBOL
        word = "CALL" if self.kind == "CE" else "PUT"
        return f"{self.name} {self.expiry.day:02d} {MONTHS[self.expiry.month - 1]} {self.strike:f} {word}"

    @property
    def exchange_symbol(self) -> str:  # SEM_TRADING_SYMBOL: the month, not the day
        month = MONTHS[self.expiry.month - 1].title()
        return f"{self.name}-{month}{self.expiry.year}-{self.strike:f}-{self.kind}"


def error(status: int, code: str, kind: str, message: str) -> Response:
    return Response(status, {"errorType": kind, "errorCode": code, "errorMessage": message})


def _auth_failure() -> Response:
    return error(
        401,
        "DH-901",
        "Invalid_Authentication",
        "Client ID or user generated access token is invalid or expired.",
    )


@dataclass
class DhanStub(BrokerStub):
    contracts: dict[str, Contract] = field(default_factory=dict)  # securityId -> contract
    correlations: dict[str, str] = field(default_factory=dict)  # orderId -> correlationId
    kill_switch: bool = False
    pnl_exit: dict[str, Any] | None = None
    consents: dict[str, str] = field(default_factory=dict)  # consentAppId -> client id
    token_ids: dict[str, str] = field(default_factory=dict)  # tokenId -> consentAppId (unspent)
    issued: list[str] = field(default_factory=list)  # access tokens consumeApp-consent gave out
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # --- the browser step of the consent flow -------------------------------------------------

    def user_logs_in(self, consent_app_id: str) -> str:
        """The user passes Dhan's login page: Dhan redirects with this tokenId."""
        assert consent_app_id in self.consents
        token_id = f"tok-{uuid.uuid4().hex[:12]}"
        self.token_ids[token_id] = consent_app_id
        return token_id

    # --- routing ------------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        if request.path.startswith("/app/") or request.path.startswith("/login/"):
            return self._auth_host(request)
        if (
            request.headers.get("access-token") not in {ACCESS_TOKEN, *self.issued}
            or request.headers.get("client-id") != CLIENT_ID
        ):
            return _auth_failure()
        path, method = request.path.removeprefix("/v2"), request.method
        if path == "/orders" and method == "POST":
            return self._place(request.json(), sliced=False)
        if path == "/orders/slicing" and method == "POST":
            return self._place(request.json(), sliced=True)
        if path == "/orders" and method == "GET":
            return Response(200, [self._render(order) for order in self.orders])
        if path.startswith("/orders/external/") and method == "GET":
            tag = path.removeprefix("/orders/external/")
            found = [order for order in self.orders if self.correlations.get(order.order_id) == tag]
            if not found:
                return error(400, "DH-907", "Data_Error", "No order for this correlation id")
            return Response(200, self._render(found[-1]))
        if path.startswith("/orders/"):
            return self._order(path.removeprefix("/orders/"), method)
        if path == "/positions" and method == "GET":
            return Response(200, self._positions())
        if path == "/marketfeed/ltp" and method == "POST":
            return self._ltp(request.json())
        if path == "/killswitch" and method == "POST":
            return self._kill_switch(request)
        if path == "/pnlExit":
            return self._pnl_exit(request)
        return Response(404, "not found", "text/html")

    def _place(self, body: dict[str, Any], *, sliced: bool) -> Response:
        if body.get("dhanClientId") != CLIENT_ID:
            return error(400, "DH-905", "Input_Exception", "dhanClientId does not match the token")
        if self.kill_switch:
            return error(400, "DH-906", "Order_Error", "Kill switch is active for the day")
        tag = body.get("correlationId", "")
        if len(tag) > 25:
            return error(400, "DH-905", "Input_Exception", "correlationId longer than 25 characters")
        contract = self.contracts.get(str(body.get("securityId")))
        if contract is None or contract.display in self.unknown_symbols:
            return error(400, "DH-905", "Input_Exception", "Invalid securityId: symbol not found")
        if body.get("exchangeSegment") != contract.segment or body.get("productType") not in _PRODUCTS:
            return error(400, "DH-905", "Input_Exception", "Invalid exchangeSegment or productType")
        if body.get("orderType") not in ("MARKET", "LIMIT") or body.get("validity") != "DAY":
            return error(400, "DH-905", "Input_Exception", "Invalid orderType or validity")
        price = float(body.get("price") or 0)
        if body["orderType"] == "LIMIT" and price <= 0:
            return error(400, "DH-905", "Input_Exception", "A LIMIT order needs a price")
        quantity = int(body["quantity"])
        sizes = [quantity]
        if sliced:  # what Dhan's slicing does: many exchange orders under one correlationId
            sizes = [FREEZE_QUANTITY] * (quantity // FREEZE_QUANTITY) + [quantity % FREEZE_QUANTITY]
            sizes = [size for size in sizes if size]
        placed = []
        for size in sizes:
            order = self.book(
                StubOrder(
                    order_id=f"5226112{next(self._ids):08d}",
                    tag=tag,
                    symbol=contract.display,
                    exchange=contract.segment,
                    side=body["transactionType"],
                    quantity=size,
                    order_type=body["orderType"],
                    price=price,
                    product=_PRODUCTS[body["productType"]],
                )
            )
            self.correlations[order.order_id] = tag
            placed.append({"orderId": order.order_id, "orderStatus": "TRANSIT"})
        return Response(200, placed if sliced else placed[0])

    def _order(self, order_id: str, method: str) -> Response:
        order = self.find(order_id)
        if order is None:
            return error(400, "DH-907", "Data_Error", "No order found for the order id")
        if method == "GET":
            return Response(200, self._render(order))
        if method == "DELETE":
            if order.status != "OPEN":
                return error(400, "DH-906", "Order_Error", "Order is not pending: cannot be cancelled")
            order.status = "CANCELLED"
            return Response(200, {"orderId": order.order_id, "orderStatus": "CANCELLED"})
        return Response(405, "method not allowed", "text/html")

    def _contract_of(self, order: StubOrder) -> tuple[str, Contract]:
        return next((sid, c) for sid, c in self.contracts.items() if c.display == order.symbol)

    def _render(self, order: StubOrder) -> dict[str, Any]:
        security_id, contract = self._contract_of(order)
        return {
            "dhanClientId": CLIENT_ID,
            "orderId": order.order_id,
            "exchangeOrderId": f"1100000{order.order_id[-8:]}",
            "correlationId": self.correlations.get(order.order_id, ""),
            "orderStatus": _STATUS.get(order.status, "TRANSIT"),
            "transactionType": order.side,
            "exchangeSegment": contract.segment,
            "productType": next(k for k, v in _PRODUCTS.items() if v == order.product),
            "orderType": order.order_type,
            "validity": "DAY",
            "tradingSymbol": contract.exchange_symbol,
            "securityId": security_id,
            "quantity": order.quantity,
            "disclosedQuantity": 0,
            "price": order.price,
            "triggerPrice": 0.0,
            "afterMarketOrder": False,
            "legName": "NA",
            "createTime": "2026-11-24 09:30:00",
            "updateTime": "2026-11-24 09:30:01",
            "exchangeTime": "2026-11-24 09:30:01",
            "drvExpiryDate": f"{contract.expiry.isoformat()} 14:30:00",
            "drvOptionType": "CALL" if contract.kind == "CE" else "PUT",
            "drvStrikePrice": float(contract.strike),
            "omsErrorCode": "",
            "omsErrorDescription": order.reason,
            "algoId": "",
            "remainingQuantity": order.quantity - order.filled,
            "averageTradedPrice": order.average_price,
            "filledQty": order.filled,
        }

    def _positions(self) -> list[dict[str, Any]]:
        rows = []
        for symbol, (order, quantity, _) in self.net_positions().items():
            security_id, contract = self._contract_of(order)
            done = [o for o in self.orders if o.symbol == symbol and o.status == "COMPLETE"]
            buys = [o for o in done if o.side == "BUY"]
            sells = [o for o in done if o.side == "SELL"]

            def average(orders: list[StubOrder]) -> float:
                filled = sum(o.filled for o in orders)
                return round(sum(o.filled * o.average_price for o in orders) / filled, 2) if filled else 0.0

            rows.append(
                {
                    "dhanClientId": CLIENT_ID,
                    "tradingSymbol": contract.exchange_symbol,
                    "securityId": security_id,
                    "positionType": "LONG" if quantity > 0 else "SHORT" if quantity < 0 else "CLOSED",
                    "exchangeSegment": contract.segment,
                    "productType": next(k for k, v in _PRODUCTS.items() if v == order.product),
                    "buyAvg": average(buys),
                    "costPrice": average(buys if quantity >= 0 else sells),
                    "buyQty": sum(o.filled for o in buys),
                    "sellAvg": average(sells),
                    "sellQty": sum(o.filled for o in sells),
                    "netQty": quantity,
                    "realizedProfit": 0.0,
                    "unrealizedProfit": 0.0,
                    "rbiReferenceRate": 1.0,
                    "multiplier": 1,
                    "carryForwardBuyQty": 0,
                    "carryForwardSellQty": 0,
                    "dayBuyQty": sum(o.filled for o in buys),
                    "daySellQty": sum(o.filled for o in sells),
                    "drvExpiryDate": f"{contract.expiry.isoformat()} 14:30:00",
                    "drvOptionType": "CALL" if contract.kind == "CE" else "PUT",
                    "drvStrikePrice": float(contract.strike),
                    "crossCurrency": False,
                }
            )
        return rows

    def _ltp(self, body: dict[str, Any]) -> Response:
        asked = [(segment, ids) for segment, ids in body.items() if isinstance(ids, list)]
        if sum(len(ids) for _, ids in asked) > MAX_QUOTE_INSTRUMENTS:
            return error(400, "DH-905", "Input_Exception", "Up to 1000 instruments a request")
        data: dict[str, dict[str, dict[str, float]]] = {}
        for segment, ids in asked:
            for security_id in ids:
                contract = self.contracts.get(str(security_id))
                if contract is not None and contract.segment == segment and contract.display in self.prices:
                    data.setdefault(segment, {})[str(security_id)] = {
                        "last_price": self.prices[contract.display]
                    }
        return Response(200, {"data": data, "status": "success"})

    def _kill_switch(self, request: Request) -> Response:
        if request.query.get("killSwitchStatus") != ["ACTIVATE"]:
            return error(400, "DH-905", "Input_Exception", "killSwitchStatus must be ACTIVATE or DEACTIVATE")
        open_orders = any(order.status == "OPEN" for order in self.orders)
        open_positions = any(quantity for _, quantity, _ in self.net_positions().values())
        if open_orders or open_positions:
            return error(400, "DH-906", "Order_Error", "Close all positions and pending orders first")
        self.kill_switch = True
        return Response(
            200,
            {"dhanClientId": CLIENT_ID, "killSwitchStatus": "Kill Switch has been successfully activated"},
        )

    def _pnl_exit(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.pnl_exit = None
            return Response(200, {"pnlExitStatus": "DISABLED", "message": "P&L based exit stopped"})
        if request.method != "POST":
            return Response(405, "method not allowed", "text/html")
        body = request.json()
        products = body.get("productType")
        if (
            not isinstance(products, list)
            or not products
            or any(p not in ("INTRADAY", "DELIVERY") for p in products)
            or float(body.get("profitValue") or 0) <= 0
            or float(body.get("lossValue") or 0) <= 0
        ):
            return error(400, "DH-905", "Input_Exception", "Invalid P&L exit configuration")
        self.pnl_exit = body
        return Response(200, {"pnlExitStatus": "ACTIVE", "message": "P&L based exit configured"})

    # --- auth.dhan.co ---------------------------------------------------------------------------

    def _auth_host(self, request: Request) -> Response:
        app_ok = request.headers.get("app_id") == APP_ID and request.headers.get("app_secret") == APP_SECRET
        if request.path == "/app/generate-consent" and request.method == "POST":
            if not app_ok:
                return Response(400, {"status": "failure", "errorMessage": "Invalid app_id or app_secret"})
            consent = str(uuid.uuid4())
            self.consents[consent] = request.query.get("client_id", [""])[0]
            return Response(
                200, {"consentAppId": consent, "consentAppStatus": "GENERATED", "status": "success"}
            )
        if request.path == "/app/consumeApp-consent" and request.method == "GET":
            token_id = request.query.get("tokenId", [""])[0]
            consent = self.token_ids.pop(token_id, "")
            if not app_ok or not consent:
                return Response(400, {"status": "failure", "errorMessage": "Invalid or expired tokenId"})
            self.issued.append(ISSUED_TOKEN)  # the token the orders may carry from now on
            return Response(
                200,
                {
                    "dhanClientId": self.consents[consent],
                    "dhanClientName": "TEST USER",
                    "dhanClientUcc": "ABCD1234",
                    "givenPowerOfAttorney": False,
                    "accessToken": ISSUED_TOKEN,
                    "expiryTime": TOKEN_EXPIRY,
                },
            )
        return Response(404, "not found", "text/html")
