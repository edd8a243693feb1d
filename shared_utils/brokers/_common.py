"""Small helpers the SDK adapters share."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.brokers.http import DEFAULT_TIMEOUT_S
from shared_utils.clock import IST


class BrokerEndpoint(BaseModel):
    """Where an adapter sends its requests. `base_url` None means the SDK's production URL."""

    model_config = ConfigDict(frozen=True)

    base_url: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60)
    # SEBI: API orders carry the exchange-registered algo id where the broker supports it.
    algo_id: str | None = None
    # The registered static IP the orders leave from (Angel One sends it as X-ClientPublicIP).
    client_public_ip: str | None = None


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
