"""The quote cache: the minute's quotes in the trading table, each expiring after `ttl`.

An index level is one item; the contracts of one (underlying, expiry) share a partition, so a
chain is one query and pricing every open position of an expiry costs one read, not one per
contract. Writes go in batches of 25 (BatchWriteItem), unprocessed items retried.

DynamoDB's TTL deletes late (and moto never), so every read filters expired items itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market_data.models import Quote

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

QUOTE_TTL = timedelta(seconds=300)
BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_UNPROCESSED_ROUNDS = 5
_OPTIONAL = ("bid", "ask", "volume", "open_interest")


class QuoteReader(Protocol):
    def get(self, instrument: str, now: datetime) -> Quote | None:
        """The latest unexpired quote of an index, or None."""
        ...


class ChainReader(Protocol):
    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]:
        """Every unexpired contract quote of one expiry."""
        ...


def _contract_key(instrument: str) -> dict[str, Any] | None:
    """The item key of a contract (named by `OptionInstrument.key`), None for an index."""
    if "|" not in instrument:
        return None
    contract = OptionInstrument.from_key(instrument)
    strike = format(contract.strike.normalize(), "f")
    return {
        "pk": {"S": keys.market_chain_pk(contract.underlying.value, contract.expiry)},
        "sk": {"S": keys.market_contract_sk(strike, contract.option_type.value)},
    }


def _key(instrument: str) -> dict[str, Any]:
    return _contract_key(instrument) or {
        "pk": {"S": keys.market_quote_pk(instrument)},
        "sk": {"S": keys.MARKET_QUOTE_SK},
    }


class QuoteCache:
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
        """Store `quotes` (the last one of an instrument wins); returns how many were stored."""
        expires = str(int((now + self._ttl).timestamp()))
        items = {quote.instrument: self._item(quote, expires) for quote in quotes}
        pending = [{"PutRequest": {"Item": item}} for item in items.values()]
        for start in range(0, len(pending), BATCH_SIZE):
            self._write(pending[start : start + BATCH_SIZE])
        return len(items)

    def _item(self, quote: Quote, expires: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_key(quote.instrument),
            "instrument": {"S": quote.instrument},
            "last_price": {"N": str(quote.last_price)},
            "as_of": {"S": quote.as_of.astimezone(UTC).isoformat()},
            self._ttl_attribute: {"N": expires},
        }
        for name in _OPTIONAL:
            value = getattr(quote, name)
            if value is not None:
                item[name] = {"N": str(value)}
        return item

    def _write(self, requests: Sequence[Any]) -> None:
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            response = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
        raise MarketDataUnavailableError(f"the quote cache left {len(requests)} quotes unwritten")

    def get(self, instrument: str, now: datetime) -> Quote | None:
        """The cached quote, or None when missing or expired (TTL deletion lags)."""
        response = self._client.get_item(TableName=self._table, Key=_key(instrument), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else self._quote(item, now)

    def contract(self, instrument: OptionInstrument, now: datetime) -> Quote | None:
        return self.get(instrument.key, now)

    def chain_quotes(self, underlying: str, expiry: date, now: datetime) -> list[Quote]:
        found = (
            self._quote(item, now)
            for item in self._query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.market_chain_pk(underlying, expiry)}},
            )
        )
        return [quote for quote in found if quote is not None]

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _quote(self, item: dict[str, Any], now: datetime) -> Quote | None:
        if int(item[self._ttl_attribute]["N"]) <= int(now.timestamp()):
            return None
        optional: dict[str, Any] = {name: Decimal(item[name]["N"]) for name in _OPTIONAL if name in item}
        return Quote(
            instrument=item["instrument"]["S"],
            last_price=Decimal(item["last_price"]["N"]),
            as_of=datetime.fromisoformat(item["as_of"]["S"]),
            **optional,
        )
