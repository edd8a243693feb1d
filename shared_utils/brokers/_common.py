"""Small helpers the SDK adapters share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.brokers.http import DEFAULT_TIMEOUT_S, BrokerHttpSession
from shared_utils.brokers.models import BrokerName, DerivativesExchange, Position
from shared_utils.clock import IST
from shared_utils.models.common import Product


class BrokerEndpoint(BaseModel):
    """Where an adapter sends its requests. `base_url` None means the SDK's production URL."""

    model_config = ConfigDict(frozen=True)

    base_url: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60)
    # SEBI: API orders carry the exchange-registered algo id where the broker supports it.
    algo_id: str | None = None
    # The registered static IP the orders leave from (Angel One sends it as X-ClientPublicIP).
    client_public_ip: str | None = None
    # The client's static-IP egress (a forward proxy leaving from that address; `egress.py`):
    # every request of the adapter goes through it. None: the function's own route out.
    proxy_url: str | None = None

    def http_session(self, broker: str) -> BrokerHttpSession:
        """The adapter's session: this endpoint's timeout, through its egress when it has one."""
        return BrokerHttpSession(broker, self.timeout_s, proxy_url=self.proxy_url)


def to_decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number.quantize(Decimal("0.01")) if number.is_finite() else None


def to_int(value: object) -> int:
    try:
        return int(Decimal(str(value))) if value not in (None, "") else 0
    except InvalidOperation:
        return 0


def ist_timestamp(value: object, *formats: str) -> datetime | None:
    """Broker timestamps are IST wall-clock times; return them aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=IST)
    if not isinstance(value, str) or not value:
        return None
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class PositionFields:
    """Where one broker's net-position rows keep each value (the SDKs name them differently)."""

    symbol: str
    exchange: str
    product: str
    quantity: str
    average_price: str
    realised_pnl: str
    last_price: str


def positions_from(
    rows: Iterable[Mapping[str, Any]],
    broker: BrokerName,
    fields: PositionFields,
    products: Mapping[str, Product],
) -> list[Position]:
    """Derivatives positions in our model; rows of other segments or unknown products are left out."""
    exchanges = {exchange.value for exchange in DerivativesExchange}
    result = []
    for row in rows:
        product = products.get(str(row.get(fields.product)))
        if row.get(fields.exchange) not in exchanges or product is None:
            continue
        result.append(
            Position(
                broker=broker,
                tradingsymbol=str(row[fields.symbol]),
                exchange=DerivativesExchange(row[fields.exchange]),
                product=product,
                quantity=to_int(row.get(fields.quantity)),
                average_price=to_decimal(row.get(fields.average_price)),
                realised_pnl=to_decimal(row.get(fields.realised_pnl)) or Decimal(0),
                last_price=to_decimal(row.get(fields.last_price)),
            )
        )
    return result
