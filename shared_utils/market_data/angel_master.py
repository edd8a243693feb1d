"""Angel One's instrument master, SmartAPI's public `OpenAPIScripMaster.json` (no login), read into
the platform's `ListedContract`s: the index options of the supported underlyings on NFO and BFO.

- one JSON array of string-valued records, e.g. {"token": "45671", "symbol": "NIFTY01DEC2626000CE",
  "name": "NIFTY", "expiry": "01DEC2026", "strike": "2600000.000000", "lotsize": "65",
  "instrumenttype": "OPTIDX", "exch_seg": "NFO", "tick_size": "5.000000"}
- `strike` and `tick_size` are in paise (Angel's SmartAPI forum: divide by 100 for rupees):
  2600000 is the 26000 strike and 5 the 0.05 tick; read as rupees they would be 100x off
- `name` is the underlying, as `Underlying` spells it; the record has no option-type field, so
  the symbol's CE/PE suffix gives it (BFO symbols follow BSE's scheme, e.g. SENSEX26D0385000CE)
- futures, stock options, other indices (SENSEX50 ...) and other segments are not ours and are
  passed over; a record of ours that does not read is skipped and counted (one log line)
- the download counts only whole (`MarketDataUnavailableError`, the day keeps yesterday's
  listing): an HTTP error or timeout, a body that is not a JSON array (Angel has served `null`),
  or one without a single readable index option
- `timeout_s` bounds the connect and each read of the body (requests' timeout), not the transfer
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
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

SOURCE = "angel one scrip master"
SCRIP_MASTER_URL = "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
PAISE_PER_RUPEE = 100
NAMES: dict[str, Underlying] = {u.value: u for u in Underlying}
SEGMENT_OF: dict[Underlying, str] = {
    u: "NFO" if EXCHANGE_OF[u] is Exchange.NSE else "BFO" for u in Underlying
}
_EXPIRY_FORMAT = "%d%b%Y"  # 29DEC2026
_CLASSIFIED_BY = ("name", "instrumenttype", "exch_seg")
_UNREADABLE = (KeyError, TypeError, ValueError, ArithmeticError, ValidationError)


def _failed(cause: str, detail: str) -> MarketDataUnavailableError:
    return MarketDataUnavailableError(message=f"{SOURCE}: {cause}: {detail}")


def _text(record: Mapping[str, object], key: str) -> str:
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: {value!r}")
    return value.strip()


def _rupees(paise: str) -> Decimal:
    """Angel's paise as rupees, plainly written (26000, 0.05: not 2.6E+4 or 0.05000000)."""
    value = (Decimal(paise) / PAISE_PER_RUPEE).normalize()
    if not value.is_finite():
        raise ValueError(f"not a number: {paise!r}")
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _day(text: str) -> date:
    """An exchange's calendar date (IST)."""
    return datetime.strptime(text, _EXPIRY_FORMAT).replace(tzinfo=IST).date()


def _contract(record: Mapping[str, object], underlying: Underlying) -> ListedContract:
    symbol = _text(record, "symbol")
    return ListedContract(
        underlying=underlying,
        expiry=_day(_text(record, "expiry")),
        strike=_rupees(_text(record, "strike")),
        option_type=OptionType(symbol[-2:]),
        lot_size=int(_text(record, "lotsize")),
        tick_size=_rupees(_text(record, "tick_size")),
        tradingsymbol=symbol,
        token=_text(record, "token"),
    )


def read_scrip_master(records: object) -> list[ListedContract]:
    """The index options of a parsed scrip master; raises when it lists none that reads."""
    if not isinstance(records, list):
        raise _failed("malformed answer", f"not a JSON array but {type(records).__name__}")
    found: list[ListedContract] = []
    malformed = 0
    for record in records:
        if not isinstance(record, Mapping) or any(key not in record for key in _CLASSIFIED_BY):
            malformed += 1
            continue
        name, segment = record["name"], record["exch_seg"]
        underlying = NAMES.get(name) if isinstance(name, str) else None
        if record["instrumenttype"] != "OPTIDX" or underlying is None or SEGMENT_OF[underlying] != segment:
            continue  # not an index option of ours: futures, stocks, other indices and segments
        try:
            found.append(_contract(record, underlying))
        except _UNREADABLE:
            malformed += 1
    if not found:
        detail = f"{len(records)} records, {malformed} unreadable index options"
        raise _failed("malformed answer", f"no readable index option of a supported underlying ({detail})")
    counts = {"records": len(records), "contracts": len(found), "malformed": malformed}
    if malformed:
        logger.warning(f"{SOURCE}: unreadable index-option records skipped", extra=counts)
    else:
        logger.info(f"{SOURCE}: read", extra=counts)
    return found


class AngelScripMaster:
    """The `listed_contracts()` of an instrument source, from Angel One's public scrip master."""

    def __init__(
        self,
        url: str = SCRIP_MASTER_URL,
        timeout_s: float = 30,
        session: requests.Session | None = None,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def listed_contracts(self) -> list[ListedContract]:
        return read_scrip_master(self._json(self._download()))

    def _download(self) -> bytes:
        return fetch(self._session, self._url, self._timeout_s, SOURCE)

    @staticmethod
    def _json(body: bytes) -> object:
        try:
            return json.loads(body)
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError: cut short, HTML, empty
            raise _failed("malformed answer", f"not JSON ({len(body)} bytes): {error}") from error
