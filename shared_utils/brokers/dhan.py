"""Dhan adapter on the official `dhanhq` SDK (DhanHQ API v2, https://dhanhq.co/docs/v2/).

The SDK's methods build the requests (routes, payloads: `place_order`, `get_order_by_id`,
`get_order_by_correlationID`, `get_order_list`, `cancel_order`, `get_positions`, `ticker_data`,
`kill_switch`, `set_pnl_exit`, `stop_pnl_exit`); what it gets wrong for us is fixed here:
- `DhanHTTP._send_request` catches every exception, a timeout included, and returns it as an
  ordinary `failure` answer, and `_parse_response` drops the HTTP status: a placement that timed
  out would read as a refusal (and be placed again), a 401 as any other error. The client below
  sends through `BrokerHttpSession` (timeouts, 429 and 5xx mapped, never retried) and keeps the
  status, so transport outcomes follow the port's error contract.
- the SDK waits 60 s by default and logs failures with `logging.error`; both bypassed here.
- `DhanContext.__init__` swallows its own errors (logs and returns half-built): the client is
  built without it. `DhanLogin` posts without a timeout, prints and opens a browser: the login
  flow is `dhan_login.py`'s own.
- every JSON body gets `dhanClientId` added, as the SDK does (also into `ticker_data`'s
  segment map, which Dhan ignores); the headers are the SDK's (`access-token`, `client-id`).

Orders (https://dhanhq.co/docs/v2/orders/):
- the contract is the `securityId` an injected lookup gives for (exchange "NFO"/"BFO",
  tradingsymbol) (Dhan's scrip master, `market_data/dhan_master.py`); an unknown contract is
  rejected unsent. `exchangeSegment` is NSE_FNO or BSE_FNO, `productType` INTRADAY (MIS) or
  MARGIN (NRML, carry forward), `validity` DAY.
- `correlationId` carries the broker tag (`tag.py`: 20 alphanumeric characters).
- broker-side slicing is off on every order: `should_slice=False`, i.e. `POST /orders`, never
  `POST /orders/slicing`. The platform slices above the freeze quantity itself, each slice its
  own tag and ledger entry. Dhan's slicing would turn one request into several exchange orders
  under one correlationId: a lookup by tag after a timeout could no longer tell which slices
  exist, and the ledger's one entry would stand for an unknown number of orders.
- MARKET orders go as given (price 0; the platform turns them into protected LIMIT orders
  upstream where that is wanted), LIMIT orders carry their price.
- algo id: Dhan's order request has no field for one (its order book reports an `algoId` that
  Dhan sets itself); `endpoint.algo_id` is therefore not sent. Nor is a client IP: Dhan checks
  the account's whitelisted static IP on its side (`endpoint.client_public_ip` is unused).

Lookup by tag asks `GET /orders/external/{correlationId}` first. Dhan does not document that
endpoint's answer for an unknown id, so an empty or error answer there is confirmed against the
day's order book (`GET /orders`) before "absent" is returned: a wrong "absent" would place the
order twice.

Error answers (`{"errorType", "errorCode", "errorMessage"}`, codes in
https://dhanhq.co/docs/v2/annexure/): HTTP 401/403 or DH-901 -> `BrokerAuthError`; DH-904 ->
`BrokerRateLimitedError`; DH-908 (internal error), DH-909 (network error), DH-910 (others) ->
`BrokerUnavailableError`, the order may exist when placing; any other error answer
(DH-902 access, DH-903 account, DH-905 input, DH-906 order, DH-907 data ...) -> a definitive
`BrokerRejectedError` carrying Dhan's code and message.

Two account controls beyond the port (https://dhanhq.co/docs/v2/traders-control/):
`activate_kill_switch()` (`POST /killswitch?killSwitchStatus=ACTIVATE`: no trading for the rest
of the day; Dhan accepts it only with no open position or pending order) and the P&L based exit
`set_pnl_exit()` / `stop_pnl_exit()` (`POST` / `DELETE /pnlExit`, body `profitValue`,
`lossValue`, `productType` [INTRADAY, DELIVERY], `enableKillSwitch`). Tokens and the client id
are never logged.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared_utils.brokers._common import BrokerEndpoint, ist_timestamp, to_decimal, to_int
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.models import (
    BrokerName,
    DerivativesExchange,
    OptionInstrument,
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
from shared_utils.brokers.symbols import dhan as symbols
from shared_utils.clock import Clock
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import Product

BROKER = BrokerName.DHAN
# (exchange "NFO"/"BFO", tradingsymbol) -> Dhan securityId, None when unknown.
SecurityIdLookup = Callable[[str, str], str | None]

API_ROOT = "https://api.dhan.co"  # the SDK's `DhanHTTP.API_BASE_URL` is this + API_PATH
API_PATH = "/v2"
SEGMENTS: dict[DerivativesExchange, str] = {
    DerivativesExchange.NFO: "NSE_FNO",
    DerivativesExchange.BFO: "BSE_FNO",
}
_SEGMENTS_BACK = {value: key for key, value in SEGMENTS.items()}
PRODUCTS: dict[Product, str] = {Product.MIS: "INTRADAY", Product.NRML: "MARGIN"}
_PRODUCTS_BACK = {value: key for key, value in PRODUCTS.items()}
# The P&L based exit names its products differently from orders (INTRADAY, DELIVERY).
PNL_EXIT_PRODUCTS: dict[Product, str] = {Product.MIS: "INTRADAY", Product.NRML: "DELIVERY"}
MAX_QUOTE_INSTRUMENTS = 1000  # /marketfeed/ltp: up to 1000 instruments a request ...
SECONDS_BETWEEN_QUOTES = 1.0  # ... and 1 request a second
_STATES = {
    "TRANSIT": OrderState.PENDING,  # not yet at the exchange
    "PENDING": OrderState.OPEN,  # awaiting execution at the exchange
    "PART_TRADED": OrderState.OPEN,
    "TRADED": OrderState.COMPLETE,
    "REJECTED": OrderState.REJECTED,
    "CANCELLED": OrderState.CANCELLED,
    "EXPIRED": OrderState.CANCELLED,  # its validity ran out: final, nothing filled after it
}
_AUTH_CODES = {"DH-901"}
_RATE_CODES = {"DH-904"}
_UNAVAILABLE_CODES = {"DH-908", "DH-909", "DH-910"}
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")
_OPTION_WORDS = {"CALL": OptionType.CE, "PUT": OptionType.PE, "CE": OptionType.CE, "PE": OptionType.PE}
_NAME = re.compile(r"^([A-Z0-9]+)[-\s]")


class _Context:
    """What the SDK's mixins read from a `DhanContext`: the HTTP client."""

    def __init__(self, http: Any) -> None:
        self._http = http

    def get_dhan_http(self) -> Any:
        return self._http


def _http_class() -> Any:
    from dhanhq import DhanHTTP

    class LambdaDhanHTTP(DhanHTTP):
        def __init__(
            self, client_id: str, access_token: str, base_url: str, session: BrokerHttpSession
        ) -> None:
            super().__init__(client_id, access_token)  # the SDK's headers; its session is replaced
            self.base_url = base_url
            self.session = session
            self.timeout = session.timeout_s

        def _send_request(self, method: Any, endpoint: str, payload: dict[str, Any] | None = None) -> Any:
            body = None
            if payload:
                payload["dhanClientId"] = self.client_id
                body = json.dumps(payload)
            response = self.session.request(
                method.value, self.base_url + endpoint, data=body, headers=self.header
            )
            status = response.status_code
            if status in (401, 403):
                raise BrokerAuthError(message=f"dhan: HTTP {status}", broker=BROKER.value)
            try:
                answer = json.loads(response.content) if response.content.strip() else {}
            except ValueError:
                answer = None
            if 200 <= status <= 299 and answer is not None:
                return {"status": "success", "remarks": "", "data": answer, "http_status": status}
            remarks: dict[str, Any] = {"http_status": status}
            if isinstance(answer, dict):
                remarks.update(
                    error_code=answer.get("errorCode"),
                    error_type=answer.get("errorType"),
                    error_message=answer.get("errorMessage"),
                )
            else:
                remarks["unreadable"] = True
            return {"status": "failure", "remarks": remarks, "data": "", "http_status": status}

    return LambdaDhanHTTP


def _client(client_id: str, access_token: str, base_url: str, session: BrokerHttpSession) -> Any:
    from dhanhq import dhanhq

    return dhanhq(_Context(_http_class()(client_id, access_token, base_url, session)))


def _checked(answer: Any, *, placing: bool = False) -> Any:
    """The answer's data, or the broker error it stands for."""
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "failure"):
        raise BrokerUnavailableError(
            message="dhan: unexpected answer", broker=BROKER.value, order_may_exist=placing
        )
    if answer["status"] == "success":
        return answer.get("data")
    remarks = answer.get("remarks")
    if not isinstance(remarks, dict) or remarks.get("unreadable"):
        status = remarks.get("http_status") if isinstance(remarks, dict) else None
        raise BrokerUnavailableError(
            message=f"dhan: unreadable answer (HTTP {status})", broker=BROKER.value, order_may_exist=placing
        )
    code = str(remarks.get("error_code") or "")
    text = str(remarks.get("error_message") or remarks.get("error_type") or "request failed")
    reason = f"{code} {text}".strip()
    if code in _AUTH_CODES:
        raise BrokerAuthError(message=f"dhan: {reason}", broker=BROKER.value)
    if code in _RATE_CODES:
        raise BrokerRateLimitedError(message=f"dhan: {reason}", broker=BROKER.value)
    if code in _UNAVAILABLE_CODES:
        raise BrokerUnavailableError(message=f"dhan: {reason}", broker=BROKER.value, order_may_exist=placing)
    raise BrokerRejectedError(message=f"dhan: {reason}", broker=BROKER.value, reason=reason)


class DhanBroker:
    def __init__(
        self,
        credentials: BrokerCredentials,
        clock: Clock,
        symbol_tokens: SecurityIdLookup,
        endpoint: BrokerEndpoint | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`sleep` paces quote calls of more than 1000 instruments (injected in tests)."""
        if not credentials.user_id:
            raise BrokerAuthError(message="dhan: the client id (user_id) is missing", broker=BROKER.value)
        self._endpoint = endpoint or BrokerEndpoint()
        self._clock = clock
        self._tokens = symbol_tokens
        self._sleep = sleep
        session = self._endpoint.http_session(BROKER.value)
        root = (self._endpoint.base_url or API_ROOT).rstrip("/")
        self._api: Any = _client(
            credentials.user_id, credentials.access_token.get_secret_value(), root + API_PATH, session
        )

    @property
    def name(self) -> BrokerName:
        return BROKER

    def _security_id(self, order: OrderRequest) -> str:
        symbol = order.symbol_for(symbols.tradingsymbol)
        token = self._tokens(order.exchange.value, symbol)
        if token is None:
            raise BrokerRejectedError(
                message=f"dhan: no securityId for {symbol}", broker=BROKER.value, reason="UNKNOWN_INSTRUMENT"
            )
        return token

    def place(self, order: OrderRequest) -> OrderResult:
        security_id = self._security_id(order)
        limit = order.order_type is OrderType.LIMIT and order.price is not None
        answer = self._api.place_order(
            security_id=security_id,
            exchange_segment=SEGMENTS[order.exchange],
            transaction_type=order.side.value,
            quantity=order.quantity,
            order_type=order.order_type.value,
            product_type=PRODUCTS[order.product],
            price=float(order.price) if limit and order.price is not None else 0,
            validity="DAY",
            tag=order.tag,
            should_slice=False,  # never /orders/slicing: see the module docstring
        )
        data = _checked(answer, placing=True)
        order_id = data.get("orderId") if isinstance(data, dict) else None
        if not order_id:
            raise BrokerUnavailableError(
                message="dhan: order accepted without an order id", broker=BROKER.value, order_may_exist=True
            )
        status = _STATES.get(str(data.get("orderStatus") or "").upper(), OrderState.PENDING)
        return OrderResult(
            broker=BROKER,
            broker_order_id=str(order_id),
            tag=order.tag,
            status=status,
            quantity=order.quantity,
            updated_at=self._clock.now(),
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        _checked(self._api.cancel_order(broker_order_id))
        return self.order_status(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        try:
            data = _checked(self._api.get_order_by_id(broker_order_id))
        except BrokerRejectedError as error:
            raise BrokerOrderNotFoundError(message=error.message, broker=BROKER.value) from None
        found = [item for item in _rows(data) if str(item.get("orderId")) == broker_order_id]
        if not found:
            raise BrokerOrderNotFoundError(message=f"dhan: no order {broker_order_id}", broker=BROKER.value)
        return _to_result(found[-1])

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        try:
            data = _checked(self._api.get_order_by_correlationID(tag))
        except BrokerRejectedError:
            data = None  # an unknown correlationId's answer is undocumented: the order book decides
        matches = [item for item in _rows(data) if item.get("correlationId") == tag]
        if not matches:
            matches = [item for item in self._order_book() if item.get("correlationId") == tag]
        return _to_result(matches[-1]) if matches else None

    def _order_book(self) -> list[dict[str, Any]]:
        return _rows(_checked(self._api.get_order_list()))

    def positions(self) -> list[Position]:
        result = []
        for row in _rows(_checked(self._api.get_positions())):
            exchange = _SEGMENTS_BACK.get(str(row.get("exchangeSegment")))
            product = _PRODUCTS_BACK.get(str(row.get("productType")))
            if exchange is None or product is None:
                continue  # other segments (equity, currency ...) and products (CNC, CO, BO ...)
            quantity = to_int(row.get("netQty"))
            instrument = self._instrument_of(row, exchange)
            average = row.get("buyAvg") if quantity > 0 else row.get("sellAvg") if quantity < 0 else None
            result.append(
                Position(
                    broker=BROKER,
                    tradingsymbol=(
                        symbols.tradingsymbol(instrument) if instrument else str(row.get("tradingSymbol"))
                    ),
                    exchange=exchange,
                    product=product,
                    quantity=quantity,
                    average_price=to_decimal(average) or None,
                    realised_pnl=to_decimal(row.get("realizedProfit")) or Decimal(0),
                    instrument=instrument,
                )
            )
        return result

    def _instrument_of(self, row: dict[str, Any], exchange: DerivativesExchange) -> OptionInstrument | None:
        """The contract of a position row, from its derivative fields, when the scrip master's
        securityId for it is the row's own (else the row keeps Dhan's symbol, and an order on it
        is refused unsent rather than sent for another contract)."""
        match = _NAME.match(str(row.get("tradingSymbol") or "").upper())
        option_type = _OPTION_WORDS.get(str(row.get("drvOptionType") or "").upper())
        strike = to_decimal(row.get("drvStrikePrice"))
        try:
            underlying = Underlying(match.group(1)) if match else None
            expiry = date.fromisoformat(str(row.get("drvExpiryDate") or "")[:10])
        except ValueError:
            return None
        if underlying is None or option_type is None or strike is None or strike <= 0:
            return None
        instrument = OptionInstrument(
            underlying=underlying, expiry=expiry, strike=strike, option_type=option_type
        )
        if instrument.exchange is not exchange:
            return None
        token = self._tokens(exchange.value, symbols.tradingsymbol(instrument))
        return instrument if token is not None and token == str(row.get("securityId")) else None

    # --- Dhan's account controls (not on the port) -------------------------------------------

    def activate_kill_switch(self) -> str:
        """Stop all trading on the account for the rest of the day; Dhan's confirmation text."""
        data = _checked(self._api.kill_switch("ACTIVATE"))
        return str((data or {}).get("killSwitchStatus") or "") if isinstance(data, dict) else ""

    def set_pnl_exit(
        self,
        profit: Decimal,
        loss: Decimal,
        products: Iterable[Product] = (Product.MIS, Product.NRML),
        *,
        enable_kill_switch: bool = True,
    ) -> str:
        """Dhan's P&L based exit: square off the day's positions of `products` once their
        cumulative P&L reaches +`profit` or -`loss` rupees (absolute amounts, both > 0), and
        activate the kill switch then if asked. Returns Dhan's `pnlExitStatus`."""
        if profit <= 0 or loss <= 0:
            raise ValueError("profit and loss are positive rupee amounts")
        kinds = sorted({PNL_EXIT_PRODUCTS[product] for product in products})
        if not kinds:
            raise ValueError("at least one product")
        data = _checked(
            self._api.set_pnl_exit(
                profit_value=profit,
                loss_value=loss,
                product_type=kinds,
                enable_kill_switch=enable_kill_switch,
            )
        )
        return str(data.get("pnlExitStatus") or "") if isinstance(data, dict) else ""

    def stop_pnl_exit(self) -> str:
        data = _checked(self._api.stop_pnl_exit())
        return str(data.get("pnlExitStatus") or "") if isinstance(data, dict) else ""


def _rows(data: Any) -> list[dict[str, Any]]:
    """An answer's order or position rows: a list of them, or one (the by-id endpoints)."""
    if isinstance(data, dict):
        return [data] if data else []
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    return []


def _segments(body: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    """`{"data": {"NSE_FNO": {"43650": {"last_price": 120.5}}}, "status": "success"}`."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return
    for segment, entries in data.items():
        if isinstance(entries, dict):
            yield str(segment), entries


def _timestamp(item: dict[str, Any]) -> datetime | None:
    """The order's latest time; Dhan fills unset times with year-1 placeholders."""
    for field in ("updateTime", "exchangeTime", "createTime"):
        parsed = ist_timestamp(item.get(field), *_TS_FORMATS)
        if parsed is not None and parsed.year >= 2000:
            return parsed
    return None


def _to_result(item: dict[str, Any]) -> OrderResult:
    status = _STATES.get(str(item.get("orderStatus") or "").upper(), OrderState.PENDING)
    reason = item.get("omsErrorDescription") or item.get("omsErrorCode") or None
    return OrderResult(
        broker=BROKER,
        broker_order_id=str(item["orderId"]),
        tag=item.get("correlationId") or None,
        status=status,
        quantity=to_int(item.get("quantity")),
        filled_quantity=to_int(item.get("filledQty")),
        average_price=to_decimal(item.get("averageTradedPrice")) or None,
        reason=str(reason) if status is OrderState.REJECTED and reason else None,
        updated_at=_timestamp(item),
    )
