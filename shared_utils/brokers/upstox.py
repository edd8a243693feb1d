"""Upstox adapter on the official `upstox-python-sdk` (`upstox_client`), Upstox API v2 and v3.

The SDK's API classes build every request (routes, headers, parameters, the order body):
- place: `OrderApiV3.place_order`, POST /v3/order/place (Upstox's order host, api-hft)
- cancel: `OrderApiV3.cancel_order`, DELETE /v3/order/cancel?order_id=
- status: `OrderApi.get_order_status`, GET /v2/order/details?order_id=
- lookup by tag: `OrderApi.get_order_book`, GET /v2/order/retrieve-all (the day's orders, scanned
  for the tag; a whole book in one call, the latest state of each order)
- positions: `PortfolioApi.get_positions`, GET /v2/portfolio/short-term-positions
- quote: `MarketQuoteV3Api.get_ltp`, GET /v3/market-quote/ltp (at most 500 instrument keys a call)

Orders:
- a contract is addressed by its instrument key, `NSE_FO|<token>` / `BSE_FO|<token>`; the token
  comes from an injected lookup (exchange, master trading symbol) -> token (Upstox's JSON
  instrument master). A contract it does not know is rejected unsent (`UNKNOWN_INSTRUMENT`).
- `tag` is the platform's broker tag (the same one every retry of the order carries).
- `slice` is false on every order. Upstox's v3 place order can split an order above the
  exchange's freeze quantity into up to 25 exchange orders ("auto slicing"), all carrying the one
  request's tag. The platform slices above the freeze quantity itself, each slice with its own
  tag and ledger entry: a broker-sliced order would put one tag on several exchange orders, and
  reconciliation by tag (after a timeout) could no longer tell how many orders, or which, belong
  to the ledger entry. An answer with more than one order id is therefore an unknown outcome.
- `endpoint.algo_id`, when set, goes in the `X-Algo-Name` header (the SDK's `algo_name`) of every
  place and cancel. Upstox has no algo field in the order body; its Algo Apps take the header,
  which carries the Algo *Name* configured for the app in My Apps (Upstox maps it to the
  exchange-approved Algo ID): for an Upstox account, `algo_id` must be that configured name.
  https://upstox.com/developer/api-documentation/appendix/my-apps-support-for-algo-trading-circular
- MARKET orders go as MARKET (price 0, no `market_protection`, which Upstox defaults to none: the
  platform protects market orders upstream); LIMIT orders carry their price. Product MIS is `I`,
  NRML `D` (Upstox's carry-forward for F&O); validity DAY; never AMO.

SDK quirks worked around here:
- `ApiClient.__init__` starts a `multiprocessing` ThreadPool (a thread per CPU) and a urllib3
  pool without a timeout, and its `__del__` prints to stdout: the client below sets the
  attributes itself and sends through `BrokerHttpSession` (timeouts, 429/5xx), by `request`.
- `Configuration()` (metaclass `TypeWithDefault`) hands out copies of the process's first
  instance, so `Configuration(sandbox=True)` after a `Configuration()` is not a sandbox one, and
  its constructor adds a stderr handler to the global `urllib3` logger. It is not used: a small
  settings object carries what `ApiClient` reads (hosts, token).
- the generated response models raise ValueError on any value outside the spec's enums (an
  order type or validity the spec does not list would make a whole order book unreadable), and
  ApiException's text holds the response's headers and body: every call asks for the raw answer
  (`_preload_content=False`) and the JSON is read here.
- the order book, positions and LTP quotes name a contract by the exchange's symbol
  (`BANKNIFTY23OCT38000PE`, `NIFTY2543021600PE` in Upstox's samples), not by the master's
  `NIFTY 24000 CE 24 NOV 26`: quotes are matched by their `instrument_token`, and `positions()`
  remembers each row's instrument key, so a square-off by the symbol it reported reaches the same
  contract (through this adapter; another one asks its lookup, which knows only master symbols).
Errors: Upstox answers `{"status": "error", "errors": [{"error_code", "message", ...}]}` (and the
deprecated camelCase `errorCode`). HTTP 401/403 and the token codes are `BrokerAuthError`; other
4xx refuse (`BrokerRejectedError`, reason "<code> <message>"), and for an order's details mean
not found. Documented rate limits: 50 requests a second, 500 a minute, 2000 in 30 minutes, per
API and user (https://upstox.com/developer/api-documentation/rate-limiting).
Nothing here logs a request: headers carry the bearer token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import requests

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
    DerivativesExchange,
    OrderRequest,
    OrderResult,
    OrderState,
    OrderType,
    Position,
)
from shared_utils.brokers.port import (
    BrokerAuthError,
    BrokerOrderNotFoundError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.brokers.symbols import upstox as symbols
from shared_utils.clock import Clock
from shared_utils.models.common import Product

BROKER = BrokerName.UPSTOX
# (exchange "NFO"/"BFO", master trading symbol) -> Upstox token, None when unknown.
SymbolTokenLookup = Callable[[str, str], str | None]

PRODUCTION_HOST = "https://api.upstox.com"
PRODUCTION_ORDER_HOST = "https://api-hft.upstox.com"  # place, modify and cancel (the SDK's order_host)
API_VERSION = "2.0"  # the `Api-Version` header of the v2 endpoints
MAX_LTP_KEYS = 500  # LTP quotes V3: at most 500 instrument keys a request
UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
_PRODUCTS = {Product.MIS: "I", Product.NRML: "D"}
_PRODUCTS_BACK = {value: key for key, value in _PRODUCTS.items()}
_POSITION_FIELDS = PositionFields(
    symbol="trading_symbol",
    exchange="exchange",
    product="product",
    quantity="quantity",
    average_price="average_price",
    realised_pnl="realised",
    last_price="last_price",
)
# Upstox's order statuses (API appendix "Order Status"), lower case; anything else is PENDING.
_STATES = {
    "complete": OrderState.COMPLETE,
    "rejected": OrderState.REJECTED,
    "cancelled": OrderState.CANCELLED,
    "cancelled after market order": OrderState.CANCELLED,
    "open": OrderState.OPEN,
    "trigger pending": OrderState.OPEN,
    "modified": OrderState.OPEN,
    "modify pending": OrderState.OPEN,
    "modify validation pending": OrderState.OPEN,
    "not modified": OrderState.OPEN,
    "cancel pending": OrderState.OPEN,
    "not cancelled": OrderState.OPEN,
}
# Invalid token; API not permitted with an extended token; inactive client_id.
_AUTH_CODES = {"UDAPI100050", "UDAPI100067", "UDAPI100073"}
_RATE_LIMIT_CODES = {"UDAPI10005"}  # "Too Many Request Sent"
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S",)
_SDK_DISTRIBUTION = "upstox-python-sdk"
_SEGMENT_OF = {exchange.value: segment for exchange, segment in symbols.INSTRUMENT_KEY_SEGMENTS.items()}


@dataclass
class ClientSettings:
    """What `ApiClient` reads from its configuration, without `Configuration`'s side effects."""

    host: str
    order_host: str
    access_token: str = field(default="", repr=False)
    sandbox: bool = False
    sandbox_urls: frozenset[str] = frozenset()
    safe_chars_for_path_param: str = ""

    @classmethod
    def for_endpoint(cls, endpoint: BrokerEndpoint, access_token: str = "") -> ClientSettings:
        """Upstox's two hosts, or the endpoint's one base URL for both (a stub, a proxy)."""
        if endpoint.base_url:
            base = endpoint.base_url.rstrip("/")
            return cls(host=base, order_host=base, access_token=access_token)
        return cls(host=PRODUCTION_HOST, order_host=PRODUCTION_ORDER_HOST, access_token=access_token)

    def auth_settings(self) -> dict[str, dict[str, str]]:
        value = f"Bearer {self.access_token}" if self.access_token else ""
        return {"OAUTH2": {"type": "oauth2", "in": "header", "key": "Authorization", "value": value}}


class Answer:
    """One HTTP answer as the SDK hands it back with `_preload_content=False`."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.data = response.content
        self._headers = dict(response.headers)

    def getheaders(self) -> dict[str, str]:
        return self._headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name, default)

    def payload(self) -> Any:
        """The JSON body, or None when there is none to read."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


def error_of(payload: object) -> tuple[str, str]:
    """(code, message) of Upstox's first error entry; empty strings when the body has none."""
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else {}
    top = payload.get("message") if isinstance(payload, Mapping) else None
    code = first.get("error_code") or first.get("errorCode") or ""
    return str(code), str(first.get("message") or top or "")


@cache
def _client_class() -> Any:
    from importlib import metadata

    from upstox_client import ApiClient

    try:
        version = metadata.version(_SDK_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - installed without metadata
        version = ""

    class LambdaApiClient(ApiClient):
        """`ApiClient` whose requests go through a `BrokerHttpSession` (no pools, no threads)."""

        def __init__(self, settings: ClientSettings, session: BrokerHttpSession) -> None:
            self.configuration = settings
            self.rest_client = None
            self.pool = None  # only `async_req=True` calls use it; none are made
            self.cookie = None
            self.last_response = None
            self.default_headers = {
                "User-Agent": "Swagger-Codegen/1.0.0/python",
                "X-Upstox-SDK-Language": "python",
                "X-Upstox-SDK-Version": version,
            }
            self._session = session

        def __del__(self) -> None:  # the SDK's closes a pool this client never made
            return None

        def request(
            self,
            method: str,
            url: str,
            query_params: Any = None,
            headers: Mapping[str, str] | None = None,
            post_params: Any = None,
            body: Any = None,
            _preload_content: bool = True,
            _request_timeout: Any = None,
        ) -> Answer:
            sent = dict(headers or {})
            data: Any = None
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                if "x-www-form-urlencoded" in sent.get("Content-Type", ""):
                    data = list(post_params or [])
                elif body is not None:
                    data = json.dumps(body)
            params = query_params or None
            response = self._session.request(method, url, params=params, data=data, headers=sent)
            if response.status_code in (401, 403):
                code, message = error_of(Answer(response).payload())
                raise BrokerAuthError(
                    message=f"upstox: HTTP {response.status_code} {code} {message}".strip(),
                    broker=BROKER.value,
                )
            return Answer(response)

    return LambdaApiClient


def api_client(settings: ClientSettings, session: BrokerHttpSession) -> Any:
    """An SDK `ApiClient` sending through `session` (imports the SDK on first use)."""
    return _client_class()(settings, session)


def _refused(code: str, message: str) -> Exception:
    text = f"{code} {message}".strip() or "request refused"
    if code in _AUTH_CODES:
        return BrokerAuthError(message=f"upstox: {text}", broker=BROKER.value)
    if code in _RATE_LIMIT_CODES:
        return BrokerRateLimitedError(message=f"upstox: {text}", broker=BROKER.value)
    return BrokerRejectedError(message=f"upstox: {text}", broker=BROKER.value, reason=text)


class UpstoxBroker:
    def __init__(
        self,
        credentials: BrokerCredentials,
        clock: Clock,
        symbol_tokens: SymbolTokenLookup,
        endpoint: BrokerEndpoint | None = None,
    ) -> None:
        import upstox_client

        self._endpoint = endpoint or BrokerEndpoint()
        self._clock = clock
        self._tokens = symbol_tokens
        session = self._endpoint.http_session(BROKER.value)
        settings = ClientSettings.for_endpoint(self._endpoint, credentials.access_token.get_secret_value())
        client = api_client(settings, session)
        self._orders_v3: Any = upstox_client.OrderApiV3(client)
        self._orders: Any = upstox_client.OrderApi(client)
        self._portfolio: Any = upstox_client.PortfolioApi(client)
        self._market: Any = upstox_client.MarketQuoteV3Api(client)
        self._algo: dict[str, str] = {"algo_name": self._endpoint.algo_id} if self._endpoint.algo_id else {}
        # (exchange, symbol as positions() reported it) -> token, from the rows' instrument keys.
        self._position_tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> BrokerName:
        return BROKER

    @staticmethod
    def _send(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Answer:
        """An SDK call answered raw (its response models are not used: see the docstring)."""
        answer: Answer = call(*args, _preload_content=False, **kwargs)
        return answer

    def _data(self, answer: Answer, *, placing: bool = False) -> Any:
        """The answer's `data`; a refusal raised as the error it means."""
        payload = answer.payload()
        if not isinstance(payload, Mapping):
            raise BrokerUnavailableError(
                message=f"upstox: unreadable answer (HTTP {answer.status})",
                broker=BROKER.value,
                order_may_exist=placing,
            )
        if 200 <= answer.status < 300 and payload.get("status") == "success":
            return payload.get("data")
        code, message = error_of(payload)
        if not code and not message:
            message = f"HTTP {answer.status}"
        raise _refused(code, message)

    def _token(self, order: OrderRequest) -> str:
        symbol = order.symbol_for(symbols.tradingsymbol)
        exchange = order.exchange.value
        token = self._tokens(exchange, symbol)
        if token is None:
            with self._lock:
                token = self._position_tokens.get((exchange, symbol))
        if token is None:
            raise BrokerRejectedError(
                message=f"upstox: no instrument token for {exchange} {symbol}",
                broker=BROKER.value,
                reason=UNKNOWN_INSTRUMENT,
            )
        return token

    def place(self, order: OrderRequest) -> OrderResult:
        from upstox_client import PlaceOrderV3Request

        token = self._token(order)
        body = PlaceOrderV3Request(
            quantity=order.quantity,
            product=_PRODUCTS[order.product],
            validity="DAY",
            price=float(order.price) if order.order_type is OrderType.LIMIT and order.price else 0.0,
            tag=order.tag,
            slice=False,  # never broker-side slicing: see the module docstring
            instrument_token=symbols.instrument_key(order.exchange, token),
            order_type=order.order_type.value,
            transaction_type=order.side.value,
            disclosed_quantity=0,
            trigger_price=0.0,
            is_amo=False,
        )
        data = self._data(self._send(self._orders_v3.place_order, body, **self._algo), placing=True)
        order_ids = data.get("order_ids") if isinstance(data, Mapping) else None
        if not isinstance(order_ids, list) or not order_ids:
            raise BrokerUnavailableError(
                message="upstox: order accepted without an order id",
                broker=BROKER.value,
                order_may_exist=True,
            )
        if len(order_ids) != 1:
            raise BrokerUnavailableError(
                message=f"upstox: one order became {len(order_ids)} exchange orders although slice is off",
                broker=BROKER.value,
                order_may_exist=True,
            )
        return OrderResult(
            broker=BROKER,
            broker_order_id=str(order_ids[0]),
            tag=order.tag,
            status=OrderState.PENDING,
            quantity=order.quantity,
            updated_at=self._clock.now(),
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        self._data(self._send(self._orders_v3.cancel_order, broker_order_id, **self._algo))
        return self.order_status(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        answer = self._send(self._orders.get_order_status, order_id=broker_order_id)
        try:
            data = self._data(answer)
        except BrokerRejectedError as error:
            raise BrokerOrderNotFoundError(message=error.message, broker=BROKER.value) from None
        if not isinstance(data, Mapping) or not data.get("order_id"):
            raise BrokerOrderNotFoundError(message=f"upstox: no order {broker_order_id}", broker=BROKER.value)
        return _to_result(data)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        book = self._data(self._send(self._orders.get_order_book, API_VERSION)) or []
        matches = [item for item in book if isinstance(item, Mapping) and item.get("tag") == tag]
        return _to_result(matches[-1]) if matches else None

    def positions(self) -> list[Position]:
        rows = [
            {**row, "trading_symbol": row.get("trading_symbol") or row.get("tradingsymbol")}
            for row in self._data(self._send(self._portfolio.get_positions, API_VERSION)) or []
            if isinstance(row, Mapping)
        ]
        seen = {}
        for row in rows:
            segment, _, token = str(row.get("instrument_token") or "").partition("|")
            exchange = str(row.get("exchange") or "")
            known = exchange in DerivativesExchange.__members__
            if known and token and row["trading_symbol"] and segment == _SEGMENT_OF.get(exchange):
                seen[(exchange, str(row["trading_symbol"]))] = token
        with self._lock:
            self._position_tokens.update(seen)
        return positions_from(rows, BROKER, _POSITION_FIELDS, _PRODUCTS_BACK)


def _to_result(item: Mapping[str, Any]) -> OrderResult:
    status = _STATES.get(str(item.get("status") or "").lower(), OrderState.PENDING)
    return OrderResult(
        broker=BROKER,
        broker_order_id=str(item["order_id"]),
        tag=item.get("tag") or None,
        status=status,
        quantity=to_int(item.get("quantity")),
        filled_quantity=to_int(item.get("filled_quantity")),
        average_price=to_decimal(item.get("average_price")) or None,
        reason=(item.get("status_message") or None) if status is OrderState.REJECTED else None,
        updated_at=ist_timestamp(item.get("exchange_timestamp") or item.get("order_timestamp"), *_TS_FORMATS),
    )
