"""Zerodha adapter on the official `kiteconnect` SDK.

- orders go as variety `regular`, carrying `tag` (<= 20 alphanumeric) and, for MARKET orders,
  `market_protection=-1` (the exchange's automatic protection; Kite requires it for market orders)
- the SDK's requests session is replaced by `BrokerHttpSession` (timeouts, 429/5xx mapping)
- lookup by tag scans today's order book (`orders()`), Kite has no server-side tag filter
"""

from __future__ import annotations

from typing import Any

from shared_utils.brokers._common import (
    BrokerEndpoint,
    PositionFields,
    ist_timestamp,
    positions_from,
    to_decimal,
    to_int,
)
from shared_utils.brokers.credentials import BrokerCredentials
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
    BrokerError,
    BrokerOrderNotFoundError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from shared_utils.brokers.symbols import zerodha as symbols
from shared_utils.clock import Clock
from shared_utils.models.common import Product

BROKER = BrokerName.ZERODHA
_PRODUCTS_BY_NAME = {product.value: product for product in Product}
_POSITION_FIELDS = PositionFields(
    symbol="tradingsymbol",
    exchange="exchange",
    product="product",
    quantity="quantity",
    average_price="average_price",
    realised_pnl="realised",
    last_price="last_price",
)
MARKET_PROTECTION_AUTO = -1
_STATES = {
    "COMPLETE": OrderState.COMPLETE,
    "REJECTED": OrderState.REJECTED,
    "CANCELLED": OrderState.CANCELLED,
    "OPEN": OrderState.OPEN,
    "TRIGGER PENDING": OrderState.OPEN,
}
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S",)


def _map_kite_error(error: Exception, *, placing: bool) -> BrokerError:
    from kiteconnect import exceptions as kite

    message = str(error) or type(error).__name__
    code = getattr(error, "code", 500)
    if isinstance(error, kite.TokenException | kite.PermissionException):
        return BrokerAuthError(message=f"kite: {message}", broker=BROKER.value)
    if code == 429:
        return BrokerRateLimitedError(message=f"kite: {message}", broker=BROKER.value)
    if isinstance(error, kite.InputException | kite.OrderException) and code < 500:
        return BrokerRejectedError(message=f"kite: {message}", broker=BROKER.value, reason=message)
    return BrokerUnavailableError(message=f"kite: {message}", broker=BROKER.value, order_may_exist=placing)


class ZerodhaBroker:
    def __init__(
        self, credentials: BrokerCredentials, clock: Clock, endpoint: BrokerEndpoint | None = None
    ) -> None:
        from kiteconnect import KiteConnect

        self._endpoint = endpoint or BrokerEndpoint()
        self._clock = clock
        self._kite: Any = KiteConnect(
            api_key=credentials.api_key.get_secret_value(),
            access_token=credentials.access_token.get_secret_value(),
            root=self._endpoint.base_url,
            timeout=self._endpoint.timeout_s,
        )
        self._kite.reqsession = self._endpoint.http_session(BROKER.value)

    @property
    def name(self) -> BrokerName:
        return BROKER

    def _call(self, operation: str, *args: Any, placing: bool = False, **kwargs: Any) -> Any:
        from kiteconnect.exceptions import KiteException

        try:
            return getattr(self._kite, operation)(*args, **kwargs)
        except KiteException as error:
            raise _map_kite_error(error, placing=placing) from None

    def place(self, order: OrderRequest) -> OrderResult:
        params: dict[str, Any] = {
            "variety": "regular",
            "exchange": order.exchange.value,
            "tradingsymbol": order.symbol_for(symbols.tradingsymbol),
            "transaction_type": order.side.value,
            "quantity": order.quantity,
            "product": order.product.value,
            "order_type": order.order_type.value,
            "validity": "DAY",
            "tag": order.tag,
        }
        if order.order_type is OrderType.LIMIT:
            params["price"] = float(order.price) if order.price is not None else None
        else:
            params["market_protection"] = MARKET_PROTECTION_AUTO
        if self._endpoint.algo_id:
            params["algo_id"] = self._endpoint.algo_id
        order_id = self._call("place_order", placing=True, **params)
        return OrderResult(
            broker=BROKER,
            broker_order_id=str(order_id),
            tag=order.tag,
            status=OrderState.PENDING,
            quantity=order.quantity,
            updated_at=self._clock.now(),
        )

    def cancel(self, broker_order_id: str) -> OrderResult:
        self._call("cancel_order", variety="regular", order_id=broker_order_id)
        return self.order_status(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        try:
            history = self._call("order_history", broker_order_id)
        except BrokerRejectedError as error:
            raise BrokerOrderNotFoundError(message=error.message, broker=BROKER.value) from None
        if not history:
            raise BrokerOrderNotFoundError(message=f"kite: no order {broker_order_id}", broker=BROKER.value)
        return _to_result(history[-1])

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        matches = [
            item for item in self._call("orders") if item.get("tag") == tag or tag in (item.get("tags") or [])
        ]
        return _to_result(matches[-1]) if matches else None

    def positions(self) -> list[Position]:
        rows = self._call("positions").get("net", [])
        return positions_from(rows, BROKER, _POSITION_FIELDS, _PRODUCTS_BY_NAME)


def _to_result(item: dict[str, Any]) -> OrderResult:
    status = _STATES.get(str(item.get("status", "")).upper(), OrderState.PENDING)
    return OrderResult(
        broker=BROKER,
        broker_order_id=str(item["order_id"]),
        tag=item.get("tag"),
        status=status,
        quantity=to_int(item.get("quantity")),
        filled_quantity=to_int(item.get("filled_quantity")),
        average_price=to_decimal(item.get("average_price")) or None,
        reason=item.get("status_message") if status is OrderState.REJECTED else None,
        updated_at=ist_timestamp(
            item.get("exchange_update_timestamp") or item.get("order_timestamp"), *_TS_FORMATS
        ),
    )
