"""Angel One adapter on the official `smartapi-python` SDK (`SmartConnect`).

The SDK's public methods build the requests (routes, parameters); three things are fixed here:
- importing `SmartApi` calls api.ipify.org without a timeout (and discards the answer): the
  import runs with `requests.get` refusing, so a cold start never waits on a third party;
- `SmartConnect.__init__` writes a log file under `./logs` (read-only on Lambda) and its
  `_request` logs request headers (bearer token, API key) on errors and drops the HTTP status:
  the client below sets the attributes itself and sends through `BrokerHttpSession`;
- `individual_order_details` ignores the configured root URL: status comes from the order book.
Orders carry `ordertag` (<= 15 characters here, see `tag.py`). The contract's `symboltoken` comes
from an injected lookup (Angel One's scrip master); an unknown contract is rejected unsent.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from shared_utils.brokers._common import (
    BrokerEndpoint,
    PositionFields,
    ist_timestamp,
    positions_from,
    to_decimal,
    to_int,
)
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    OrderState,
    OrderType,
    Position,
)
from shared_utils.brokers.port import (
    BrokerAuthError,
    BrokerOrderNotFoundError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.brokers.symbols import angel_one as symbols
from shared_utils.clock import Clock
from shared_utils.models.common import Product

BROKER = BrokerName.ANGEL_ONE
# (exchange, tradingsymbol) -> Angel One symboltoken, None when unknown.
SymbolTokenLookup = Callable[[str, str], str | None]

_PRODUCTS = {Product.MIS: "INTRADAY", Product.NRML: "CARRYFORWARD"}
_PRODUCTS_BACK = {value: key for key, value in _PRODUCTS.items()}
_POSITION_FIELDS = PositionFields(
    symbol="tradingsymbol",
    exchange="exchange",
    product="producttype",
    quantity="netqty",
    average_price="avgnetprice",
    realised_pnl="realised",
    last_price="ltp",
)
_STATES = {
    "complete": OrderState.COMPLETE,
    "rejected": OrderState.REJECTED,
    "cancelled": OrderState.CANCELLED,
    "open": OrderState.OPEN,
    "trigger pending": OrderState.OPEN,
}
_AUTH_CODES = {"AG8001", "AG8002", "AG8003", "AB1010", "AB8050", "AB8051"}
_TS_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M:%S.%f")
_IMPORT_LOCK = threading.Lock()
# What the SDK itself sends when no address is configured (it hard-codes this value).
_SDK_DEFAULT_PUBLIC_IP = "106.193.147.98"


def _smartconnect_class() -> Any:
    with _IMPORT_LOCK:
        if "SmartApi.smartConnect" not in sys.modules:
            import logzero
            import requests

            logzero.logger.disabled = True  # the SDK logs request headers (tokens) through logzero
            real_get = requests.get

            def no_public_ip_lookup(*_args: Any, **_kwargs: Any) -> Any:
                raise requests.exceptions.ConnectionError("public IP lookup disabled")

            requests.get = no_public_ip_lookup
            try:
                import SmartApi.smartConnect  # noqa: F401
            finally:
                requests.get = real_get
        from SmartApi.smartConnect import SmartConnect

        return SmartConnect


def _client_class() -> Any:
    base = _smartconnect_class()

    class LambdaSmartConnect(base):  # type: ignore[misc, valid-type]
        def __init__(
            self,
            api_key: str,
            access_token: str,
            root: str | None,
            session: BrokerHttpSession,
            public_ip: str,
        ) -> None:
            self.debug = False
            self.api_key = api_key
            self.privateKey = api_key
            self.access_token = access_token
            self.refresh_token = None
            self.feed_token = None
            self.userId = None
            self.session_expiry_hook = None
            self.disable_ssl = False
            self.proxies: dict[str, str] = {}
            self.root = root or self._rootUrl
            self.timeout = session.timeout_s
            self.reqsession = session
            self.clientPublicIp = public_ip

        def _request(self, route: str, method: str, parameters: dict[str, Any] | None = None) -> Any:
            params = dict(parameters or {})
            url = urljoin(self.root, self._routes[route].format(**params))
            headers = self.requestHeaders()
            headers["Authorization"] = f"Bearer {self.access_token}"
            body = json.dumps(params) if method in ("POST", "PUT") else None
            response = self.reqsession.request(method, url, data=body, headers=headers)
            if response.status_code in (401, 403):
                raise BrokerAuthError(message=f"angel one: HTTP {response.status_code}", broker=BROKER.value)
            try:
                return response.json()
            except ValueError:
                raise BrokerUnavailableError(
                    message=f"angel one: unreadable answer (HTTP {response.status_code})",
                    broker=BROKER.value,
                    order_may_exist=method == "POST",
                ) from None

    return LambdaSmartConnect


class AngelOneBroker:
    def __init__(
        self,
        credentials: BrokerCredentials,
        clock: Clock,
        symbol_tokens: SymbolTokenLookup,
        endpoint: BrokerEndpoint | None = None,
    ) -> None:
        self._endpoint = endpoint or BrokerEndpoint()
        self._clock = clock
        self._tokens = symbol_tokens
        session = self._endpoint.http_session(BROKER.value)
        self._api: Any = _client_class()(
            credentials.api_key.get_secret_value(),
            credentials.access_token.get_secret_value(),
            self._endpoint.base_url,
            session,
            self._endpoint.client_public_ip or _SDK_DEFAULT_PUBLIC_IP,
        )

    @property
    def name(self) -> BrokerName:
        return BROKER

    def _checked(self, response: Any, *, placing: bool = False) -> Any:
        if not isinstance(response, dict):
            raise BrokerUnavailableError(
                message="angel one: unexpected answer", broker=BROKER.value, order_may_exist=placing
            )
        if response.get("status") is True or response.get("success") is True:
            return response.get("data")
        code = str(response.get("errorcode") or "")
        message = str(response.get("message") or "request failed")
        if code in _AUTH_CODES:
            raise BrokerAuthError(message=f"angel one: {code} {message}", broker=BROKER.value)
        raise BrokerRejectedError(
            message=f"angel one: {code} {message}".strip(),
            broker=BROKER.value,
            reason=f"{code} {message}".strip(),
        )

    def _token(self, order: OrderRequest) -> tuple[str, str]:
        symbol = order.symbol_for(symbols.tradingsymbol)
        token = self._tokens(order.exchange.value, symbol)
        if token is None:
            raise BrokerRejectedError(
                message=f"angel one: no symboltoken for {symbol}",
                broker=BROKER.value,
                reason="UNKNOWN_INSTRUMENT",
            )
        return symbol, token

    def place(self, order: OrderRequest) -> OrderResult:
        symbol, token = self._token(order)
        params: dict[str, Any] = {
            "variety": "NORMAL",
            "tradingsymbol": symbol,
            "symboltoken": token,
            "transactiontype": order.side.value,
            "exchange": order.exchange.value,
            "ordertype": order.order_type.value,
            "producttype": _PRODUCTS[order.product],
            "duration": "DAY",
            "price": f"{order.price:f}" if order.order_type is OrderType.LIMIT and order.price else "0",
            "quantity": str(order.quantity),
            "ordertag": order.tag,
        }
        data = self._checked(self._api.placeOrderFullResponse(params), placing=True)
        order_id = (data or {}).get("orderid")
        if not order_id:
            raise BrokerUnavailableError(
                message="angel one: order accepted without an order id",
                broker=BROKER.value,
                order_may_exist=True,
            )
        return OrderResult(
            broker=BROKER,
            broker_order_id=str(order_id),
            tag=order.tag,
            status=OrderState.PENDING,
            quantity=order.quantity,
            updated_at=self._clock.now(),
        )

    def _order_book(self) -> list[dict[str, Any]]:
        return list(self._checked(self._api.orderBook()) or [])

    def cancel(self, broker_order_id: str) -> OrderResult:
        self._checked(self._api.cancelOrder(broker_order_id, "NORMAL"))
        return self.order_status(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        for item in self._order_book():
            if str(item.get("orderid")) == broker_order_id:
                return _to_result(item)
        raise BrokerOrderNotFoundError(message=f"angel one: no order {broker_order_id}", broker=BROKER.value)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        matches = [item for item in self._order_book() if item.get("ordertag") == tag]
        return _to_result(matches[-1]) if matches else None

    def positions(self) -> list[Position]:
        rows = self._checked(self._api.position()) or []
        return positions_from(rows, BROKER, _POSITION_FIELDS, _PRODUCTS_BACK)


def _to_result(item: dict[str, Any]) -> OrderResult:
    status = _STATES.get(str(item.get("status") or item.get("orderstatus") or "").lower(), OrderState.PENDING)
    return OrderResult(
        broker=BROKER,
        broker_order_id=str(item["orderid"]),
        tag=item.get("ordertag") or None,
        status=status,
        quantity=to_int(item.get("quantity")),
        filled_quantity=to_int(item.get("filledshares")),
        average_price=to_decimal(item.get("averageprice")) or None,
        reason=(item.get("text") or None) if status is OrderState.REJECTED else None,
        updated_at=ist_timestamp(item.get("updatetime") or item.get("exchtime"), *_TS_FORMATS),
    )
