"""Finvasia (Shoonya) market data on the official `NorenRestApiPy` SDK: `GetQuotes`
(`NorenApi.get_quotes(exchange, token)`), one instrument a call.

What one call a token means: Noren has no batch quote call, and Shoonya documents 20 requests a
second and 200 a minute for its API (orders, books and quotes alike). A minute's ~2,500 contracts
would be ~2,500 calls, twelve and a half minutes of the documented budget, so this source cannot
refresh the full chains every minute. It is fit for the index levels and the open positions'
contracts: a refresh is bounded by `max_instruments` (default 100 calls, 30 s of pauses, half
the minute's budget, the rest left to the order adapter on the same account), and a request that
needs more calls fails at once with `MarketDataUnavailableError` naming the limit, rather than
taking minutes or tripping the broker's limiter. Calls are 0.3 s apart (200 a minute).

- an index by its fixed token on NSE/BSE (`symbols.finvasia.INDEX_TOKENS`), a contract by the
  token the injected lookup (Noren's `NFO_symbols`/`BFO_symbols` masters) gives for its
  tradingsymbol. A contract the
  lookup does not know is absent (not dropped) and each call logs them once at warning; a token
  Noren answers "no data" for is absent too (the call still counts).
- `as_of` is `lut`, the quote's last update as epoch seconds; the last trade's `ltd` + `ltt`
  ("24-11-2026", "09:59:57", IST) stand in only when it is missing. Noren's published field list
  names only `ltt` (a time without a date, unusable alone): `lut`/`ltd` are from Noren answers
  seen in use, so confirm them on a live session.
- bid/ask are `bp1`/`sp1` ("0.00" when that side is empty: unset), volume `v`, open interest `oi`
- any failed call fails the whole refresh (`MarketDataUnavailableError`): a batch is never partial
- the SDK's posts go through the order adapter's shim onto this adapter's `BrokerHttpSession`
  (its own base URL and timeout), and its answers' `emsg` is read from there
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from aws_lambda_powertools import Logger

from shared_utils.brokers._common import BrokerEndpoint, ist_timestamp, to_decimal
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.finvasia import (
    _BINDING,
    BROKER,
    DEFAULT_BASE_URL,
    DEFAULT_WEBSOCKET,
    SymbolTokenLookup,
    _Binding,
    _noren_class,
)
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.port import BrokerError
from shared_utils.brokers.symbols import finvasia as symbols
from shared_utils.clock import IST
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import EXCHANGE_OF
from shared_utils.market_data.answers import Wanted, positive_price, to_quote, unavailable
from shared_utils.market_data.models import Quote, QuoteBatch, QuoteRequest, keep_trusted

logger = Logger(child=True)

CALLS_PER_MINUTE = 200  # Shoonya's documented limit (and 20 a second)
SECONDS_BETWEEN_CALLS = 60 / CALLS_PER_MINUTE
DEFAULT_MAX_INSTRUMENTS = 100
# Noren's index tokens on NSE/BSE (its touchline feed's `NSE|26000` ...); they do not change.
_TS_FORMATS = ("%d-%m-%Y %H:%M:%S",)
# The SDK indexes the answer without checking its shape (`json.loads(res.text)['stat']`).
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class _Wanted:
    exchange: str
    token: str
    wanted: Wanted


def _as_of(payload: Mapping[str, Any]) -> datetime | None:
    lut = payload.get("lut")
    if lut not in (None, ""):
        try:
            return datetime.fromtimestamp(int(str(lut)), UTC).astimezone(IST)
        except (ValueError, OverflowError, OSError):
            return None
    day, clock = payload.get("ltd"), payload.get("ltt")
    if not day or not clock:
        return None
    return ist_timestamp(f"{day} {clock}", *_TS_FORMATS)


def _to_quote(wanted: _Wanted, payload: Mapping[str, Any]) -> Quote | None:
    return to_quote(
        wanted.wanted,
        to_decimal(payload.get("lp")),
        _as_of(payload),
        bid=positive_price(payload.get("bp1")),
        ask=positive_price(payload.get("sp1")),
        volume=payload.get("v"),
        open_interest=payload.get("oi"),
    )


def _unavailable(error: Exception) -> MarketDataUnavailableError:
    return unavailable("finvasia", error)


def _refusal(binding: _Binding) -> str:
    """Noren's `emsg` for a `Not_Ok` answer (the SDK returns only None)."""
    try:
        payload = binding.last.json() if binding.last is not None else None
    except ValueError:
        payload = None
    if not isinstance(payload, Mapping):
        raise MarketDataUnavailableError(message="finvasia: malformed answer: no emsg")
    return str(payload.get("emsg") or "request failed")


class FinvasiaMarketData:
    """A `MarketDataSource` on one Noren session (the user id and its `susertoken`), with the
    contracts' tokens from `tokens` ((exchange, tradingsymbol) -> token, None when unknown)."""

    def __init__(
        self,
        credentials: BrokerCredentials,
        tokens: SymbolTokenLookup,
        endpoint: BrokerEndpoint | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_instruments: int = DEFAULT_MAX_INSTRUMENTS,
    ) -> None:
        if not credentials.user_id:
            raise MarketDataUnavailableError(message="finvasia: credentials need a user_id")
        if not 1 <= max_instruments <= CALLS_PER_MINUTE:
            raise ValueError(f"max_instruments must be 1..{CALLS_PER_MINUTE} (Noren's calls a minute)")
        endpoint = endpoint or BrokerEndpoint()
        self._tokens = tokens
        self._sleep = sleep
        self._max_instruments = max_instruments
        self._base_url = endpoint.base_url or DEFAULT_BASE_URL
        self._session = BrokerHttpSession(BROKER.value, endpoint.timeout_s)
        self._api: Any = _noren_class()(host=self._base_url, websocket=DEFAULT_WEBSOCKET)
        self._api.set_session(credentials.user_id, "", credentials.access_token.get_secret_value())

    def _wanted(self, request: QuoteRequest) -> list[_Wanted]:
        """One call each, in request order (a repeated instrument is asked once)."""
        wanted: dict[tuple[str, str], _Wanted] = {}
        unknown: list[str] = []
        for underlying in request.indices:
            exchange = EXCHANGE_OF[underlying].value
            token = symbols.INDEX_TOKENS.get(underlying)
            if token is None:
                unknown.append(f"{exchange}:{underlying.value}")
                continue
            wanted[(exchange, token)] = _Wanted(exchange, token, Wanted(underlying.value, index=True))
        for contract in request.contracts:
            exchange = contract.exchange.value
            symbol = symbols.tradingsymbol(contract)
            found = self._tokens(exchange, symbol)
            if found is None:
                unknown.append(f"{exchange}:{symbol}")
                continue
            token = str(found)
            wanted[(exchange, token)] = _Wanted(exchange, token, Wanted(contract.key, index=False))
        if unknown:
            logger.warning(
                "instruments without a Noren token are left out", count=len(unknown), examples=unknown[:5]
            )
        return list(wanted.values())

    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        wanted = self._wanted(request)
        if len(wanted) > self._max_instruments:
            raise MarketDataUnavailableError(
                message=(
                    f"finvasia: {len(wanted)} instruments need {len(wanted)} GetQuotes calls (one each);"
                    f" a refresh is bounded to {self._max_instruments}, Noren's documented limit being"
                    f" {CALLS_PER_MINUTE} requests a minute"
                )
            )
        found: list[Quote] = []
        dropped = calls = 0
        for target in wanted:
            if calls:
                self._sleep(SECONDS_BETWEEN_CALLS)
            payload = self._quote(target)
            calls += 1
            if payload is None:  # Noren has no data for the token
                continue
            quote = _to_quote(target, payload)
            if quote is None:
                dropped += 1
            else:
                found.append(quote)
        return keep_trusted(found, at, dropped=dropped, requests=calls)

    def _quote(self, target: _Wanted) -> Mapping[str, Any] | None:
        binding = _Binding(self._session, self._base_url)
        bound = _BINDING.set(binding)
        try:
            answer = self._api.get_quotes(target.exchange, target.token)
        except (BrokerError, requests.RequestException, *_MALFORMED) as error:
            raise _unavailable(error) from error
        finally:
            _BINDING.reset(bound)
        if isinstance(answer, Mapping):
            return answer
        if answer is not None:
            raise MarketDataUnavailableError(message=f"finvasia: malformed answer: {type(answer).__name__}")
        message = _refusal(binding)
        if "no data" in message.lower():
            return None
        if "session" in message.lower():
            raise MarketDataUnavailableError(message=f"finvasia: token or permission refused: {message}")
        raise MarketDataUnavailableError(message=f"finvasia: request refused: {message}")
