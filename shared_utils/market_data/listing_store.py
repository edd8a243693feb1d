"""The accepted listing in the trading table: one item holds it whole (it is a few kilobytes:
7 indices x a handful of expiries), so a reader sees yesterday's or today's, never a mixture;
each accepted day is also kept under its date."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.market_data.listing import InstrumentListing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ListingStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def current(self) -> InstrumentListing | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={
                "pk": {"S": keys.INSTRUMENT_LISTING_PK},
                "sk": {"S": keys.INSTRUMENT_LISTING_CURRENT_SK},
            },
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else InstrumentListing.model_validate_json(item["listing"]["S"])

    def accept(self, listing: InstrumentListing) -> None:
        """Make `listing` the current one (and keep it under its date), in one transaction."""
        body = {"S": listing.model_dump_json()}
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {"pk": {"S": keys.INSTRUMENT_LISTING_PK}, "sk": {"S": sk}, "listing": body},
                    }
                }
                for sk in (keys.INSTRUMENT_LISTING_CURRENT_SK, listing.trade_date.isoformat())
            ]
        )


class CurrentListing:
    """The accepted listing for planning, read once per process and day: a warm container
    re-reads it only while what it holds is older than the trade date (the morning's download
    may land after its first read), at most every `recheck`."""

    def __init__(self, store: ListingStore, clock: Clock, recheck: timedelta = timedelta(minutes=5)) -> None:
        self._store = store
        self._clock = clock
        self._recheck = recheck
        self._held: InstrumentListing | None = None
        self._read_at: datetime | None = None

    def __call__(self, trade_date: date) -> InstrumentListing | None:
        now = self._clock.now()
        current = self._held is not None and self._held.trade_date >= trade_date
        if not current and (self._read_at is None or now - self._read_at >= self._recheck):
            self._held, self._read_at = self._store.current(), now
        return self._held
