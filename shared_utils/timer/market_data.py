"""RefreshMarketData: fetch quotes for the instruments that matter this minute (open positions and
strategies due in the next 5 minutes) from the market-data port and cache them for 300 seconds.

DynamoDB's TTL deletes late (and moto never), so every read filters expired items itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils import keys
from shared_utils.market.simulation import IndexPaths, default_paths
from shared_utils.market.underlyings import Underlying
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.triggers import DueSchedule

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

QUOTE_TTL = timedelta(seconds=300)
LOOKAHEAD = timedelta(minutes=5)
_UNDERLYINGS = frozenset(u.value for u in Underlying)


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


class QuoteReader(Protocol):
    def get(self, instrument: str, now: datetime) -> Quote | None:
        """The latest unexpired quote of `instrument`, or None."""
        ...


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
    """Every supported index's level each minute (planning, the stop-loss check and the paper
    fills price from these and from nothing else), the underlyings due in the look-ahead, and
    the instruments of open positions."""
    due = {str(entry.underlying) for entry in schedule.due_schedule_entries(tick, tick + LOOKAHEAD)}
    return sorted(_UNDERLYINGS | due | positions.open_instruments())


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


class SimulatedMarketData:
    """The local market-data source: supported indices follow the simulated index paths; any
    other instrument gets a constant level derived from its name, so it still has a quote."""

    def __init__(self, paths: IndexPaths | None = None) -> None:
        self._paths = paths or default_paths()

    def quotes(self, instruments: Sequence[str], at: datetime) -> list[Quote]:
        return [Quote(instrument=i, last_price=self._level(i, at), as_of=at) for i in instruments]

    def _level(self, instrument: str, at: datetime) -> Decimal:
        if instrument in _UNDERLYINGS:
            return self._paths.level(instrument, at)
        seed = int.from_bytes(hashlib.sha256(instrument.encode()).digest()[:4], "big")
        return Decimal(50 + seed % 500)
