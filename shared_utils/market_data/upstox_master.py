"""Upstox's instrument master, the public BOD JSON files (no login), read into the platform's
`ListedContract`s: the index options of the supported underlyings on NSE and BSE F&O.

- `https://assets.upstox.com/market-quote/instruments/exchange/NSE.json.gz` and `.../BSE.json.gz`
  (https://upstox.com/developer/api-documentation/instruments, "JSON files"): each a gzip of one
  JSON array of instruments of every segment
- an option record, per the same page: {"weekly": false, "segment": "NSE_FO", "name": ...,
  "exchange": "NSE", "expiry": 1706207399000, "instrument_type": "CE", "underlying_symbol": "IDEA",
  "instrument_key": "NSE_FO|36708", "lot_size": 80000, "freeze_quantity": 1600000.0,
  "exchange_token": "36708", "minimum_lot": 80000, "underlying_key": "NSE_EQ|INE669E01016",
  "tick_size": 5.0, "underlying_type": "EQUITY", "trading_symbol": "IDEA 22 CE 25 JAN 24",
  "strike_price": 22.0}
- kept: segment NSE_FO / BSE_FO (the underlying's own exchange), instrument_type CE / PE,
  underlying_type INDEX and underlying_symbol one of `Underlying`; futures, stock options, other
  indices (SENSEX50 ...), equities and indices themselves are passed over; a record of ours that
  does not read is skipped and counted (one log line a file)
- `expiry` is epoch milliseconds of the contract's last moment (the sample, 1706207399000, is
  2024-01-25 23:59:59 IST): the expiry is its IST date, never its UTC one
- `tick_size` is in paise: the samples give 5.0 for an option and an equity whose tick is
  0.05 rupees (and 1.0 for a 0.01 one), so it is divided by 100
- `token` is the instrument key's number (`NSE_FO|36708` -> `36708`), what the order adapter puts
  back behind its segment; `tradingsymbol` is `trading_symbol`, the master's format
  (`symbols/upstox.py`)
- the download counts only whole (`MarketDataUnavailableError`, the day keeps yesterday's
  listing): either file's HTTP error or timeout, a body that is not (a gzip of) one JSON array, or
  a file without a single readable index option of its exchange
- `timeout_s` bounds the connect and each read of the body (requests' timeout), not the transfer
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import requests
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from shared_utils.clock import IST
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import EXCHANGE_OF, Exchange, Underlying
from shared_utils.market_data.download import fetch
from shared_utils.market_data.listing import ListedContract

logger = Logger(child=True)

SOURCE = "upstox instruments"
INSTRUMENTS_URL = "https://assets.upstox.com/market-quote/instruments/exchange/"
# The file of each exchange, and the F&O segment its index options are listed under.
FILES: dict[Exchange, str] = {Exchange.NSE: "NSE.json.gz", Exchange.BSE: "BSE.json.gz"}
SEGMENTS: dict[Exchange, str] = {Exchange.NSE: "NSE_FO", Exchange.BSE: "BSE_FO"}
PAISE_PER_RUPEE = 100
GZIP_MAGIC = b"\x1f\x8b"
NAMES: dict[str, Underlying] = {u.value: u for u in Underlying}
_OPTION_TYPES = {"CE", "PE"}
_CLASSIFIED_BY = ("segment", "instrument_type", "underlying_symbol")
_UNREADABLE = (KeyError, TypeError, ValueError, ArithmeticError, OverflowError, OSError, ValidationError)


def _failed(exchange: Exchange, cause: str, detail: str) -> MarketDataUnavailableError:
    return MarketDataUnavailableError(message=f"{SOURCE} {FILES[exchange]}: {cause}: {detail}")


def _number(record: Mapping[str, object], key: str) -> Decimal:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: {value!r}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"{key}: {value!r}")
    return number


def _plain(value: Decimal) -> Decimal:
    """26000 and 0.05, not 2.6E+4 or 26000.0."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _text(record: Mapping[str, object], key: str) -> str:
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: {value!r}")
    return value.strip()


def _expiry(record: Mapping[str, object]) -> date:
    millis = record["expiry"]
    if isinstance(millis, bool) or not isinstance(millis, int | float) or millis <= 0:
        raise ValueError(f"expiry: {millis!r}")
    return datetime.fromtimestamp(millis / 1000, tz=UTC).astimezone(IST).date()


def _token(record: Mapping[str, object], segment: str) -> str:
    key_segment, separator, token = _text(record, "instrument_key").partition("|")
    if key_segment != segment or not separator or not token.isdigit():
        raise ValueError(f"instrument_key: {record['instrument_key']!r}")
    return token


def _lot(record: Mapping[str, object]) -> int:
    lot = _number(record, "lot_size")
    if lot != lot.to_integral_value():
        raise ValueError(f"lot_size: {record['lot_size']!r}")
    return int(lot)


def _contract(record: Mapping[str, object], underlying: Underlying, segment: str) -> ListedContract:
    return ListedContract(
        underlying=underlying,
        expiry=_expiry(record),
        strike=_plain(_number(record, "strike_price")),
        option_type=OptionType(_text(record, "instrument_type")),
        lot_size=_lot(record),
        tick_size=_plain(_number(record, "tick_size") / PAISE_PER_RUPEE),
        tradingsymbol=_text(record, "trading_symbol"),
        token=_token(record, segment),
    )


def read_instruments(exchange: Exchange, records: object) -> list[ListedContract]:
    """The index options of one parsed file; raises when it lists none of its exchange that reads."""
    if not isinstance(records, list):
        raise _failed(exchange, "malformed answer", f"not a JSON array but {type(records).__name__}")
    segment = SEGMENTS[exchange]
    found: list[ListedContract] = []
    malformed = 0
    for record in records:
        if not isinstance(record, Mapping) or any(key not in record for key in _CLASSIFIED_BY):
            if not isinstance(record, Mapping) or record.get("segment") == segment:
                malformed += 1  # an F&O record we cannot even classify (equities have no underlying)
            continue
        underlying = NAMES.get(str(record["underlying_symbol"]))
        if (
            record["segment"] != segment
            or record["instrument_type"] not in _OPTION_TYPES
            or underlying is None
            or EXCHANGE_OF[underlying] is not exchange
            or record.get("underlying_type", "INDEX") != "INDEX"
        ):
            continue  # not an index option of ours: futures, stocks, other indices and segments
        try:
            found.append(_contract(record, underlying, segment))
        except _UNREADABLE:
            malformed += 1
    if not found:
        detail = f"{len(records)} records, {malformed} unreadable index options"
        raise _failed(
            exchange, "malformed answer", f"no readable index option of a supported underlying ({detail})"
        )
    counts = {"records": len(records), "contracts": len(found), "malformed": malformed}
    if malformed:
        logger.warning(f"{SOURCE} {FILES[exchange]}: unreadable index-option records skipped", extra=counts)
    else:
        logger.info(f"{SOURCE} {FILES[exchange]}: read", extra=counts)
    return found


def _json(exchange: Exchange, body: bytes) -> object:
    """The file's array. A body without gzip's magic number was decoded on the way already (a
    host answering with `Content-Encoding: gzip`, which requests undoes) and is read as is."""
    text = body
    if body[:2] == GZIP_MAGIC:
        try:
            text = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError; cut short: EOFError
            raise _failed(exchange, "malformed answer", f"not gzip ({len(body)} bytes): {error}") from error
    try:
        return json.loads(text)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise _failed(exchange, "malformed answer", f"not JSON ({len(text)} bytes): {error}") from error


class UpstoxInstruments:
    """The `listed_contracts()` of an instrument source, from Upstox's public BOD JSON files."""

    def __init__(
        self,
        base_url: str = INSTRUMENTS_URL,
        timeout_s: float = 30,
        session: requests.Session | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def listed_contracts(self) -> list[ListedContract]:
        """Both files, or an error: a listing without BSE (or NSE) is never returned."""
        found: list[ListedContract] = []
        for exchange in FILES:
            found.extend(read_instruments(exchange, _json(exchange, self._download(exchange))))
        return found

    def _download(self, exchange: Exchange) -> bytes:
        url = f"{self._base_url}/{FILES[exchange]}"
        return fetch(self._session, url, self._timeout_s, f"{SOURCE} {FILES[exchange]}")
