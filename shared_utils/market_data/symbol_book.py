"""Each broker's symbol book in the trading table: what its instrument master lists, kept from
the morning's download so orders carry the broker's own symbol and token.

One item per (broker, index, expiry) holds that expiry's contracts (a few hundred, tens of
kilobytes). A header item, the master's summary (`listing.summarize`: per index the kept
expiries with their contract counts, and the day of the download), is written last. A reader
trusts the header: an expiry it does not name is not listed. A download that fails, or whose
items are written only in part, leaves the previous header in place, and every expiry item it
names is still true (a listed contract's symbol never changes), so readers never see a
half-written book. Items of an expiry live until a week past it (TTL).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from shared_utils import keys
from shared_utils.brokers.listed import ContractNotListed, ListedSymbol
from shared_utils.brokers.models import DERIVATIVES_SEGMENT, BrokerName, OptionInstrument
from shared_utils.clock import Clock, to_ist
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import EXCHANGE_OF, Underlying
from shared_utils.market_data.listing import InstrumentListing, ListedContract

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_SIZE = 25
MAX_UNPROCESSED_ROUNDS = 5
KEPT_PAST_EXPIRY = timedelta(days=7)
TTL_ATTRIBUTE = "expires_at"


class SymbolBookStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def replace(
        self, broker: BrokerName, contracts: Sequence[ListedContract], summary: InstrumentListing
    ) -> None:
        """Store the day's book of `broker` (expired contracts left out); its header, the
        master's `summary` (per index the kept expiries and their counts), goes last."""
        trade_date = summary.trade_date
        by_expiry: dict[tuple[Underlying, date], dict[str, list[str]]] = defaultdict(dict)
        for contract in contracts:
            if contract.expiry >= trade_date:
                by_expiry[(contract.underlying, contract.expiry)][_key(contract)] = [
                    contract.tradingsymbol,
                    contract.token,
                ]
        if not by_expiry:
            raise MarketDataUnavailableError(f"the {broker.value} master lists no live index option")
        requests = [
            {"PutRequest": {"Item": self._expiry_item(broker, underlying, expiry, trade_date, symbols)}}
            for (underlying, expiry), symbols in sorted(by_expiry.items())
        ]
        for start in range(0, len(requests), BATCH_SIZE):
            self._write(requests[start : start + BATCH_SIZE])
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": keys.symbol_book_pk(broker.value)},
                "sk": {"S": keys.SYMBOL_BOOK_HEADER_SK},
                "header": {"S": summary.model_dump_json()},
            },
        )

    def header(self, broker: BrokerName) -> InstrumentListing | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.symbol_book_pk(broker.value)}, "sk": {"S": keys.SYMBOL_BOOK_HEADER_SK}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else InstrumentListing.model_validate_json(item["header"]["S"])

    def expiry(self, broker: BrokerName, underlying: Underlying, expiry: date) -> dict[str, ListedSymbol]:
        """One expiry's contracts, by `OptionInstrument.key`."""
        item = self._client.get_item(
            TableName=self._table,
            Key={
                "pk": {"S": keys.symbol_book_pk(broker.value)},
                "sk": {"S": keys.symbol_book_sk(underlying.value, expiry)},
            },
        ).get("Item")
        if item is None:
            return {}
        listed = json.loads(item["symbols"]["S"])
        return {key: ListedSymbol(tradingsymbol=pair[0], token=pair[1]) for key, pair in listed.items()}

    def _expiry_item(
        self,
        broker: BrokerName,
        underlying: Underlying,
        expiry: date,
        trade_date: date,
        symbols: dict[str, list[str]],
    ) -> dict[str, Any]:
        expires = datetime.combine(expiry + KEPT_PAST_EXPIRY, time(), tzinfo=UTC)
        return {
            "pk": {"S": keys.symbol_book_pk(broker.value)},
            "sk": {"S": keys.symbol_book_sk(underlying.value, expiry)},
            "trade_date": {"S": trade_date.isoformat()},
            "symbols": {"S": json.dumps(symbols, separators=(",", ":"))},
            TTL_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
        }

    def _write(self, requests: list[Any]) -> None:
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            response = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
        raise MarketDataUnavailableError(f"the symbol book left {len(requests)} expiries unwritten")


def _key(contract: ListedContract) -> str:
    return OptionInstrument(
        underlying=contract.underlying,
        expiry=contract.expiry,
        strike=contract.strike,
        option_type=contract.option_type,
    ).key


class SymbolBooks:
    """The `SymbolBook` the order path reads: headers and expiry items read once per process
    (a header again while it is older than today, at most every `recheck`, as the morning's
    download may land after a container's first order)."""

    def __init__(
        self, store: SymbolBookStore, clock: Clock, recheck: timedelta = timedelta(minutes=5)
    ) -> None:
        self._store = store
        self._clock = clock
        self._recheck = recheck
        self._lock = threading.Lock()
        self._headers: dict[BrokerName, tuple[InstrumentListing | None, datetime]] = {}
        self._expiries: dict[tuple[BrokerName, Underlying, date], dict[str, ListedSymbol]] = {}
        self._tokens: dict[tuple[BrokerName, str, str], str] = {}

    def resolve(self, broker: BrokerName, instrument: OptionInstrument) -> ListedSymbol | None:
        header = self._header(broker)
        if header is None:
            return None
        index = header.indices.get(instrument.underlying)
        if index is None or index.expiry(instrument.expiry) is None:
            raise ContractNotListed(instrument.key)
        found = self._expiry(broker, instrument.underlying, instrument.expiry).get(instrument.key)
        if found is None:
            raise ContractNotListed(instrument.key)
        return found

    def token(self, broker: BrokerName, exchange: str, tradingsymbol: str) -> str | None:
        with self._lock:
            found = self._tokens.get((broker, exchange, tradingsymbol))
        if found is None:
            # A symbol no order of this process resolved (a square-off of a position read from
            # the broker): read every kept expiry once.
            header = self._header(broker)
            for underlying, index in (header.indices if header else {}).items():
                for expiry in index.expiry_dates:
                    self._expiry(broker, underlying, expiry)
            with self._lock:
                found = self._tokens.get((broker, exchange, tradingsymbol))
        return found

    def _header(self, broker: BrokerName) -> InstrumentListing | None:
        now = self._clock.now()
        with self._lock:
            held = self._headers.get(broker)
        today = to_ist(now).date()
        if held is not None and (
            (held[0] is not None and held[0].trade_date >= today) or now - held[1] < self._recheck
        ):
            return held[0]
        header = self._store.header(broker)
        with self._lock:
            self._headers[broker] = (header, now)
        return header

    def _expiry(self, broker: BrokerName, underlying: Underlying, expiry: date) -> dict[str, ListedSymbol]:
        with self._lock:
            held = self._expiries.get((broker, underlying, expiry))
        if held is not None:
            return held
        listed = self._store.expiry(broker, underlying, expiry)
        exchange = DERIVATIVES_SEGMENT[EXCHANGE_OF[underlying]].value
        with self._lock:
            self._expiries[(broker, underlying, expiry)] = listed
            for symbol in listed.values():
                self._tokens[(broker, exchange, symbol.tradingsymbol)] = symbol.token
        return listed
