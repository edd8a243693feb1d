"""Kite Connect market data on the official `kiteconnect` SDK: full quotes from `GET /quote`.

- one `exchange:tradingsymbol` name per instrument: an index by its spot name
  (`INDEX_QUOTE_NAMES`), a contract by its NFO/BFO tradingsymbol
- at most 500 names per call (Kite's limit for /quote), and 1 s between the calls of one refresh
  (the quote endpoints allow 1 request a second); the pause is injected, time is an input
- `as_of` is `timestamp`, the exchange's time of the quote packet: IST wall-clock, which the SDK
  parses naive; `last_trade_time` stands in only when it is missing
- any failed call fails the whole refresh (`MarketDataUnavailableError`): a batch is never partial
- the SDK's requests session is `BrokerHttpSession` (timeouts, 429/5xx), as for Zerodha orders
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from pydantic import ValidationError

from shared_utils.brokers._common import BrokerEndpoint, ist_timestamp, to_decimal
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.models import BrokerName, OptionInstrument
from shared_utils.brokers.port import BrokerError
from shared_utils.brokers.symbols import zerodha as symbols
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.answers import Wanted, best_price, to_quote, unavailable
from shared_utils.market_data.listing import ListedContract
from shared_utils.market_data.models import Quote, QuoteBatch, QuoteRequest, keep_trusted

INSTRUMENT_EXCHANGES = ("NFO", "BFO")  # the index options of NSE and BSE
MAX_INSTRUMENTS_PER_CALL = 500  # Kite's documented limit for /quote
SECONDS_BETWEEN_CALLS = 1.0  # Kite's quote endpoints: 1 request per second
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S",)
# The SDK indexes the answer without checking its shape (and parses 19-character timestamps):
# a malformed body surfaces as one of these, and is no more usable than an error.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, UnboundLocalError)


def _names(request: QuoteRequest) -> dict[str, Wanted]:
    """Kite name -> what it stands for, in request order (a repeated instrument is asked once)."""
    names = {symbols.INDEX_QUOTE_NAMES[u]: Wanted(u.value, index=True) for u in request.indices}
    for contract in request.contracts:
        name = f"{contract.exchange.value}:{symbols.tradingsymbol(contract)}"
        names[name] = Wanted(contract.key, index=False)
    return names


def _to_quote(wanted: Wanted, payload: object) -> Quote | None:
    if not isinstance(payload, Mapping):
        return None
    depth = payload.get("depth")
    return to_quote(
        wanted,
        to_decimal(payload.get("last_price")),
        ist_timestamp(payload.get("timestamp") or payload.get("last_trade_time"), *_TS_FORMATS),
        bid=best_price(depth, "buy"),
        ask=best_price(depth, "sell"),
        volume=payload.get("volume"),
        open_interest=payload.get("oi"),
    )


def _unavailable(error: Exception) -> MarketDataUnavailableError:
    """Kite's own exceptions name their cause; the session's errors are the brokers' ones."""
    from kiteconnect import exceptions as kite

    code = getattr(error, "code", None)
    cause = None
    if isinstance(error, kite.TokenException | kite.PermissionException):
        cause = "token or permission refused"
    elif code == 429:
        cause = "rate limited"
    elif isinstance(code, int) and code >= 500:
        cause = "unavailable"
    elif isinstance(error, kite.KiteException):
        cause = "request refused"
    return unavailable("kite", error, cause)


class KiteMarketData:
    """A `MarketDataSource` on one Kite Connect session (the api key and its access token)."""

    def __init__(
        self,
        credentials: BrokerCredentials,
        endpoint: BrokerEndpoint | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from kiteconnect import KiteConnect

        endpoint = endpoint or BrokerEndpoint()
        self._sleep = sleep
        self._kite: Any = KiteConnect(
            api_key=credentials.api_key.get_secret_value(),
            access_token=credentials.access_token.get_secret_value(),
            root=endpoint.base_url,
            timeout=endpoint.timeout_s,
        )
        self._kite.reqsession = BrokerHttpSession(BrokerName.ZERODHA.value, endpoint.timeout_s)

    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        wanted = _names(request)
        names = list(wanted)
        found: list[Quote] = []
        dropped = calls = 0
        for start in range(0, len(names), MAX_INSTRUMENTS_PER_CALL):
            if calls:
                self._sleep(SECONDS_BETWEEN_CALLS)
            answer = self._quote(names[start : start + MAX_INSTRUMENTS_PER_CALL])
            calls += 1
            for name, payload in answer.items():
                target = wanted.get(name)
                if target is None:  # not asked for: nothing to map it to
                    continue
                quote = _to_quote(target, payload)
                if quote is None:
                    dropped += 1
                else:
                    found.append(quote)
        return keep_trusted(found, at, dropped=dropped, requests=calls)

    def tradingsymbol(self, contract: OptionInstrument) -> str:
        """What a Zerodha order names the contract (the order adapter's formatting)."""
        return symbols.tradingsymbol(contract)

    def listed_contracts(self) -> list[ListedContract]:
        """The index options of Kite's instrument dump (`GET /instruments/NFO` and `/BFO`, CSV).

        Rows of other names (stock options), futures and anything unreadable are skipped; a dump
        that fails to download or parse fails whole (the day keeps yesterday's listing)."""
        from kiteconnect.exceptions import KiteException

        supported = {u.value for u in Underlying}
        found: list[ListedContract] = []
        for exchange in INSTRUMENT_EXCHANGES:
            try:
                rows = self._kite.instruments(exchange)
            except (KiteException, BrokerError, requests.RequestException, *_MALFORMED) as error:
                raise _unavailable(error) from error
            for row in rows:
                if row.get("name") not in supported or row.get("instrument_type") not in ("CE", "PE"):
                    continue
                try:
                    found.append(
                        ListedContract(
                            underlying=Underlying(row["name"]),
                            expiry=row["expiry"],
                            strike=Decimal(str(row["strike"])),
                            option_type=OptionType(row["instrument_type"]),
                            lot_size=row["lot_size"],
                            tick_size=Decimal(str(row["tick_size"])),
                            tradingsymbol=row["tradingsymbol"],
                            token=str(row["instrument_token"]),
                        )
                    )
                except (KeyError, ValueError, ValidationError):
                    continue
        return found

    def _quote(self, names: Sequence[str]) -> Mapping[str, Any]:
        from kiteconnect.exceptions import KiteException

        try:
            answer = self._kite.quote(list(names))
        except (KiteException, BrokerError, requests.RequestException, *_MALFORMED) as error:
            raise _unavailable(error) from error
        if not isinstance(answer, Mapping):
            raise MarketDataUnavailableError(message=f"kite: malformed answer: {type(answer).__name__}")
        return answer
