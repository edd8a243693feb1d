"""Finvasia (Shoonya) adapter on the official `NorenRestApiPy` SDK (`NorenApi`).

The SDK builds every request (`jData` + `jKey` form posts) but calls `requests.post` with no
timeout, keeps the host in a class attribute shared by all instances, and answers failures with
a bare None. So the module's `requests` is replaced once by a shim that sends each post through
the calling adapter's `BrokerHttpSession` (its own base URL and timeout) and keeps the last
answer, from which the adapter reads `emsg`. Orders carry the tag in `remarks`.
The SDK logs request payloads (with the session token) at DEBUG: its logger is held at WARNING.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from shared_utils.brokers.symbols import finvasia as symbols
from shared_utils.clock import Clock
from shared_utils.market.options import Action
from shared_utils.models.common import Product

BROKER = BrokerName.FINVASIA
DEFAULT_BASE_URL = "https://api.shoonya.com/NorenWClientTP/"
DEFAULT_WEBSOCKET = "wss://api.shoonya.com/NorenWSTP/"
# (exchange, tradingsymbol) -> Noren token; only quotes need it.
SymbolTokenLookup = Callable[[str, str], str | None]

_PRODUCTS = {Product.MIS: "I", Product.NRML: "M"}
_PRODUCTS_BACK = {value: key for key, value in _PRODUCTS.items()}
_POSITION_FIELDS = PositionFields(
    symbol="tsym",
    exchange="exch",
    product="prd",
    quantity="netqty",
    average_price="netavgprc",
    realised_pnl="rpnl",
    last_price="lp",
)
_STATES = {
    "COMPLETE": OrderState.COMPLETE,
    "REJECTED": OrderState.REJECTED,
    "CANCELED": OrderState.CANCELLED,
    "CANCELLED": OrderState.CANCELLED,
    "OPEN": OrderState.OPEN,
    "TRIGGER_PENDING": OrderState.OPEN,
}
_TS_FORMATS = ("%H:%M:%S %d-%m-%Y",)


@dataclass
class _Binding:
    session: BrokerHttpSession
    base_url: str
    last: requests.Response | None = None


_BINDING: contextvars.ContextVar[_Binding | None] = contextvars.ContextVar("noren_binding", default=None)
_INSTALL_LOCK = threading.Lock()


class _RequestsShim:
    """Stands in for `requests` inside the NorenApi module; only `post` is used there."""

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        binding = _BINDING.get()
        if binding is None:
            raise BrokerUnavailableError(message="noren call outside an adapter", broker=BROKER.value)
        route = url[url.rfind("/") :]
        response = binding.session.post(binding.base_url.rstrip("/") + route, data=data, **kwargs)
        binding.last = response
        return response


def _noren_class() -> Any:
    with _INSTALL_LOCK:
        import NorenRestApiPy.NorenApi as noren_module

        if not isinstance(noren_module.requests, _RequestsShim):
            noren_module.requests = _RequestsShim()
            logging.getLogger(noren_module.__name__).setLevel(logging.WARNING)
        return noren_module.NorenApi


class FinvasiaBroker:
    def __init__(
        self,
        credentials: BrokerCredentials,
        clock: Clock,
        endpoint: BrokerEndpoint | None = None,
        symbol_tokens: SymbolTokenLookup | None = None,
    ) -> None:
        if not credentials.user_id:
            raise BrokerAuthError(message="finvasia credentials need a user_id", broker=BROKER.value)
        self._endpoint = endpoint or BrokerEndpoint()
        self._clock = clock
        self._tokens = symbol_tokens
        base_url = self._endpoint.base_url or DEFAULT_BASE_URL
        self._binding = _Binding(self._endpoint.http_session(BROKER.value), base_url)
        self._api: Any = _noren_class()(host=base_url, websocket=DEFAULT_WEBSOCKET)
        self._api.set_session(credentials.user_id, "", credentials.access_token.get_secret_value())

    @property
    def name(self) -> BrokerName:
        return BROKER

    @contextmanager
    def _bound(self) -> Iterator[_Binding]:
        binding = _Binding(self._binding.session, self._binding.base_url)
        token = _BINDING.set(binding)
        try:
            yield binding
        finally:
            _BINDING.reset(token)

    def _call(self, operation: str, *args: Any, placing: bool = False, empty_ok: bool = False) -> Any:
        with self._bound() as binding:
            result = getattr(self._api, operation)(*args)
        if result is not None:
            return result
        message = self._error_message(binding, placing=placing)
        if empty_ok and "no data" in message.lower():
            return []
        if "session" in message.lower():
            raise BrokerAuthError(message=f"finvasia: {message}", broker=BROKER.value)
        raise BrokerRejectedError(message=f"finvasia: {message}", broker=BROKER.value, reason=message)

    @staticmethod
    def _error_message(binding: _Binding, *, placing: bool) -> str:
        try:
            payload = binding.last.json() if binding.last is not None else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise BrokerUnavailableError(
                message="finvasia: unreadable answer", broker=BROKER.value, order_may_exist=placing
            )
        return str(payload.get("emsg") or payload.get("stat") or "request failed")

    def place(self, order: OrderRequest) -> OrderResult:
        limit = order.order_type is OrderType.LIMIT
        result = self._call(
            "place_order",
            "B" if order.side is Action.BUY else "S",
            _PRODUCTS[order.product],
            order.exchange.value,
            order.symbol_for(symbols.tradingsymbol),
            order.quantity,
            0,
            "LMT" if limit else "MKT",
            f"{order.price:f}" if limit and order.price is not None else "0",
            None,
            "DAY",
            "NO",
            order.tag,
            placing=True,
        )
        order_id = result.get("norenordno")
        if not order_id:
            raise BrokerUnavailableError(
                message="finvasia: order accepted without an order number",
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

    def cancel(self, broker_order_id: str) -> OrderResult:
        self._call("cancel_order", broker_order_id)
        return self.order_status(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        try:
            history = self._call("single_order_history", broker_order_id)
        except BrokerRejectedError as error:
            raise BrokerOrderNotFoundError(message=error.message, broker=BROKER.value) from None
        if not history:
            raise BrokerOrderNotFoundError(
                message=f"finvasia: no order {broker_order_id}", broker=BROKER.value
            )
        return _to_result(history[0])  # Noren lists an order's history newest first

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        book = self._call("get_order_book", empty_ok=True)
        matches = [item for item in book if item.get("remarks") == tag]
        return _to_result(matches[0]) if matches else None  # the order book is newest first

    def positions(self) -> list[Position]:
        rows = self._call("get_positions", empty_ok=True)
        return positions_from(rows, BROKER, _POSITION_FIELDS, _PRODUCTS_BACK)


def _to_result(item: dict[str, Any]) -> OrderResult:
    status = _STATES.get(str(item.get("status", "")).upper(), OrderState.PENDING)
    return OrderResult(
        broker=BROKER,
        broker_order_id=str(item["norenordno"]),
        tag=item.get("remarks") or None,
        status=status,
        quantity=to_int(item.get("qty")),
        filled_quantity=to_int(item.get("fillshares")),
        average_price=to_decimal(item.get("avgprc")) or None,
        reason=(item.get("rejreason") or None) if status is OrderState.REJECTED else None,
        updated_at=ist_timestamp(item.get("norentm"), *_TS_FORMATS),
    )
