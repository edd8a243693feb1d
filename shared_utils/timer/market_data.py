"""RefreshMarketData: fetch quotes for the instruments that matter this minute (open positions and
strategies due in the next 5 minutes) from the market-data port and cache them for 300 seconds.

DynamoDB's TTL deletes late (and moto never), so every read filters expired items itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils import keys
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.triggers import DueSchedule

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

QUOTE_TTL = timedelta(seconds=300)
LOOKAHEAD = timedelta(minutes=5)


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True)

    instrument: str = Field(min_length=1)
    last_price: Decimal = Field(gt=0)
    as_of: AwareDatetime


class RefreshReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    instruments: list[str]
    cached: int


class MarketDataSource(Protocol):
    def quotes(self, instruments: Sequence[str], at: datetime) -> list[Quote]: ...


class OpenPositionInstruments(Protocol):
    def open_instruments(self) -> set[str]:
        """Instruments of every open position (the positions store arrives with execution)."""
        ...


class NoOpenPositions:
    """No position store exists before the execution issue: nothing is open."""

    def open_instruments(self) -> set[str]:
        return set()


def instruments_to_refresh(
    tick: datetime, schedule: DueSchedule, positions: OpenPositionInstruments
) -> list[str]:
    due = {str(entry.underlying) for entry in schedule.due_schedule_entries(tick, tick + LOOKAHEAD)}
    return sorted(due | positions.open_instruments())


class QuoteCache:
    """Latest quote per instrument in the trading table, expiring after `ttl`."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        ttl: timedelta = QUOTE_TTL,
        ttl_attribute: str = "expires_at",
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl
        self._ttl_attribute = ttl_attribute

    def put(self, quotes: Iterable[Quote], now: datetime) -> int:
        expires = int((now + self._ttl).timestamp())
        count = 0
        for quote in quotes:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": keys.market_quote_pk(quote.instrument)},
                    "sk": {"S": keys.MARKET_QUOTE_SK},
                    "instrument": {"S": quote.instrument},
                    "last_price": {"N": str(quote.last_price)},
                    "as_of": {"S": quote.as_of.astimezone(UTC).isoformat()},
                    self._ttl_attribute: {"N": str(expires)},
                },
            )
            count += 1
        return count

    def get(self, instrument: str, now: datetime) -> Quote | None:
        """The cached quote, or None when missing or expired (TTL deletion lags)."""
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.market_quote_pk(instrument)}, "sk": {"S": keys.MARKET_QUOTE_SK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None or int(item[self._ttl_attribute]["N"]) <= int(now.timestamp()):
            return None
        return Quote(
            instrument=item["instrument"]["S"],
            last_price=Decimal(item["last_price"]["N"]),
            as_of=datetime.fromisoformat(item["as_of"]["S"]),
        )


def refresh_market_data(
    envelope: TimerEnvelope,
    schedule: DueSchedule,
    positions: OpenPositionInstruments,
    source: MarketDataSource,
    cache: QuoteCache,
    now: datetime,
) -> RefreshReport:
    instruments = instruments_to_refresh(envelope.tick, schedule, positions)
    quotes = source.quotes(instruments, envelope.tick) if instruments else []
    cached = cache.put(quotes, now)
    report = RefreshReport(tick=envelope.tick, instruments=instruments, cached=cached)
    logger.info("Market data refreshed", extra=report.model_dump(mode="json"))
    return report


# Reference levels of the simulated market (index points, late 2026 order of magnitude).
SIMULATED_BASE: dict[str, Decimal] = {
    "NIFTY": Decimal("26000"),
    "BANKNIFTY": Decimal("59000"),
    "FINNIFTY": Decimal("27500"),
    "MIDCPNIFTY": Decimal("13500"),
    "NIFTYNXT50": Decimal("70000"),
    "SENSEX": Decimal("85000"),
    "BANKEX": Decimal("66000"),
}


class SimulatedMarketData:
    """A deterministic simulated market for local runs and tests: a smooth oscillation around a
    reference level per instrument (unknown instruments get a level derived from their name)."""

    def quotes(self, instruments: Sequence[str], at: datetime) -> list[Quote]:
        minutes = at.timestamp() / 60
        quotes = []
        for instrument in instruments:
            base = SIMULATED_BASE.get(instrument)
            if base is None:
                seed = int.from_bytes(hashlib.sha256(instrument.encode()).digest()[:4], "big")
                base = Decimal(50 + seed % 500)
            move = Decimal(str(round(math.sin(minutes / 7) * 0.004, 6)))
            price = (base * (1 + move)).quantize(Decimal("0.05"))
            quotes.append(Quote(instrument=instrument, last_price=price, as_of=at))
        return quotes
