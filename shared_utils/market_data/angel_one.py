"""Angel One market data on the official `smartapi-python` SDK: FULL quotes from the Live Market
Data API, `POST /rest/secure/angelbroking/market/v1/quote` (`SmartConnect.getMarketData`).

- an instrument is asked for by (exchange, symboltoken): an index by its fixed token on NSE/BSE
  (`INDEX_TOKENS`), a contract by the token the injected lookup (Angel's scrip master) gives for
  its NFO/BFO tradingsymbol. A contract the lookup does not know is left out: absent from the
  batch, not dropped (there is no answer to distrust), and each call logs them once at warning.
- at most 50 tokens a call, mixed exchanges in one call (`{"NSE": [...], "NFO": [...]}`), and
  1 s between the calls of one refresh. Angel announced the 50-token bulk fetch (Nov 2023) with
  a limit of 1 request a second for this endpoint; its later rate-limit table lists /quote at
  10 a second, 500 a minute and 5,000 an hour. The pause keeps to the stricter one, so a minute's
  2,574 contracts (52 calls) spend ~51 s in pauses alone: confirm the limit Angel enforces on a
  live session before this is the minute's source (at 10 a second the pauses are ~5 s; 52 calls
  a minute stays inside 500 a minute and 5,000 an hour either way).
- `as_of` is `exchFeedTime` ("24-Nov-2026 09:59:58", IST wall-clock), the exchange's time of the
  quote packet; `exchTradeTime` (the last trade's) stands in only when it is missing
- bid/ask are the best level of `depth` (an empty level has price 0: unset), volume is
  `tradeVolume`, open interest `opnInterest`; an index has none of them (Angel sends zeros)
- a token Angel lists under `unfetched` is absent, like one the lookup does not know
- any failed call fails the whole refresh (`MarketDataUnavailableError`): a batch is never partial
- the client is the order adapter's `SmartConnect` (no log file, no public-IP lookup, no header
  logging) on a `BrokerHttpSession`; its "access denied because of exceeding access rate" answer
  is read as the rate limit it is, not as a refused token
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import requests
from aws_lambda_powertools import Logger

from shared_utils.brokers._common import BrokerEndpoint, ist_timestamp, to_decimal
from shared_utils.brokers.angel_one import (
    _AUTH_CODES,
    _SDK_DEFAULT_PUBLIC_IP,
    BROKER,
    SymbolTokenLookup,
    _client_class,
)
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.port import BrokerError, BrokerRateLimitedError
from shared_utils.brokers.symbols import angel_one as symbols
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import EXCHANGE_OF
from shared_utils.market_data.answers import Wanted, best_price, to_quote, unavailable
from shared_utils.market_data.models import Quote, QuoteBatch, QuoteRequest, keep_trusted

logger = Logger(child=True)

SOURCE = "angel one"

MAX_TOKENS_PER_CALL = 50  # Angel's limit for /quote
SECONDS_BETWEEN_CALLS = 1.0  # /quote: 1 request a second (see the module docstring)
MODE = "FULL"
_TS_FORMATS = ("%d-%b-%Y %H:%M:%S",)
_RATE_LIMIT_TEXT = "access rate"  # "Access denied because of exceeding access rate"
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)

# (exchange, symboltoken): what a quote is asked for and answered by.
_Key = tuple[str, str]


class _QuoteSession(BrokerHttpSession):
    """Angel answers a breached rate limit with HTTP 403 and a line of text; the client would
    take any 403 for a refused token."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if response.status_code in (401, 403) and _RATE_LIMIT_TEXT in response.text[:200].lower():
            raise BrokerRateLimitedError(
                message=f"{self.broker}: HTTP {response.status_code} exceeding access rate",
                broker=self.broker,
            )
        return response


def _to_quote(wanted: Wanted, item: Mapping[str, Any]) -> Quote | None:
    depth = item.get("depth")
    return to_quote(
        wanted,
        to_decimal(item.get("ltp")),
        ist_timestamp(item.get("exchFeedTime") or item.get("exchTradeTime"), *_TS_FORMATS),
        bid=best_price(depth, "buy"),
        ask=best_price(depth, "sell"),
        volume=item.get("tradeVolume"),
        open_interest=item.get("opnInterest"),
    )


def _malformed(detail: str) -> MarketDataUnavailableError:
    return MarketDataUnavailableError(message=f"{SOURCE}: malformed answer: {detail}")


def _unavailable(error: Exception) -> MarketDataUnavailableError:
    return unavailable(SOURCE, error)


def _data(answer: object) -> Mapping[str, Any]:
    """The envelope's `data`, or the refusal it carries as an error."""
    if not isinstance(answer, Mapping):
        raise _malformed(type(answer).__name__)
    if answer.get("status") is True or answer.get("success") is True:
        data = answer.get("data")
        if not isinstance(data, Mapping):
            raise _malformed(f"data is {type(data).__name__}")
        return data
    code = str(answer.get("errorcode") or answer.get("errorCode") or "")
    message = str(answer.get("message") or "request failed")
    if code in _AUTH_CODES:
        cause = "token or permission refused"
    elif _RATE_LIMIT_TEXT in message.lower():
        cause = "rate limited"
    else:
        cause = "request refused"
    detail = f"{code} {message}" if code else message
    raise MarketDataUnavailableError(message=f"angel one: {cause}: {detail}")


def _exchange_tokens(keys: Iterable[_Key]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for exchange, token in keys:
        grouped.setdefault(exchange, []).append(token)
    return grouped


class AngelOneMarketData:
    """A `MarketDataSource` on one SmartAPI session (the api key and its JWT), with the contracts'
    symboltokens from `tokens` ((exchange, tradingsymbol) -> token, None when unknown)."""

    def __init__(
        self,
        credentials: BrokerCredentials,
        tokens: SymbolTokenLookup,
        endpoint: BrokerEndpoint | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        endpoint = endpoint or BrokerEndpoint()
        self._tokens = tokens
        self._sleep = sleep
        self._api: Any = _client_class()(
            credentials.api_key.get_secret_value(),
            credentials.access_token.get_secret_value(),
            endpoint.base_url,
            _QuoteSession(BROKER.value, endpoint.timeout_s),
            endpoint.client_public_ip or _SDK_DEFAULT_PUBLIC_IP,
        )

    def _wanted(self, request: QuoteRequest) -> dict[_Key, Wanted]:
        """(exchange, token) -> what it stands for, in request order (a repeat is asked once)."""
        wanted: dict[_Key, Wanted] = {}
        unknown: list[str] = []
        for underlying in request.indices:
            exchange = EXCHANGE_OF[underlying].value
            token = symbols.INDEX_TOKENS.get(underlying)
            if token is None:
                unknown.append(f"{exchange}:{underlying.value}")
                continue
            wanted[(exchange, token)] = Wanted(underlying.value, index=True)
        for contract in request.contracts:
            exchange = contract.exchange.value
            symbol = symbols.tradingsymbol(contract)
            token = self._tokens(exchange, symbol)
            if token is None:
                unknown.append(f"{exchange}:{symbol}")
                continue
            wanted[(exchange, str(token))] = Wanted(contract.key, index=False)
        if unknown:
            logger.warning(
                "instruments without an Angel One symboltoken are left out",
                count=len(unknown),
                examples=unknown[:5],
            )
        return wanted

    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        wanted = self._wanted(request)
        keys = list(wanted)
        found: list[Quote] = []
        dropped = calls = 0
        for start in range(0, len(keys), MAX_TOKENS_PER_CALL):
            if calls:
                self._sleep(SECONDS_BETWEEN_CALLS)
            chunk = keys[start : start + MAX_TOKENS_PER_CALL]
            fetched = self._quote(chunk)
            calls += 1
            asked = {key: wanted[key] for key in chunk}
            for item in fetched:
                target = asked.pop((str(item.get("exchange")), str(item.get("symbolToken"))), None)
                if target is None:  # not asked for, or answered twice: nothing to map it to
                    continue
                quote = _to_quote(target, item)
                if quote is None:
                    dropped += 1
                else:
                    found.append(quote)
        return keep_trusted(found, at, dropped=dropped, requests=calls)

    def _quote(self, keys: list[_Key]) -> list[Mapping[str, Any]]:
        try:
            answer = self._api.getMarketData(MODE, _exchange_tokens(keys))
        except (BrokerError, requests.RequestException, *_MALFORMED) as error:
            raise _unavailable(error) from error
        fetched = _data(answer).get("fetched") or []
        if not isinstance(fetched, list) or not all(isinstance(item, Mapping) for item in fetched):
            raise _malformed("fetched is not a list of quotes")
        return fetched
