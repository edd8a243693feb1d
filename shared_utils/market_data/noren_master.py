"""Finvasia's instrument masters (Shoonya, a Noren OMS), `NFO_symbols.txt.zip` and
`BFO_symbols.txt.zip` (public, no login; the base URL is the ShoonyaApi-py README's), read into
the platform's `ListedContract`s: the index options of the supported underlyings.

- each zip holds one comma-separated text with a header row; every line ends with a comma:
  Exchange,Token,LotSize,Symbol,TradingSymbol,Expiry,Instrument,OptionType,StrikePrice,TickSize,
  NFO,45671,65,NIFTY,NIFTY01DEC26C26000,01-DEC-2026,OPTIDX,CE,26000,0.05,
- prices are in rupees (unlike Angel's paise), Expiry is DD-MON-YYYY
- `Symbol` is the underlying; BFO's index options go by BSE's product codes, BSXOPT (SENSEX) and
  BKXOPT (BANKEX), not by the index's name (SX50OPT, SENSEX50, is not ours)
- futures (FUTIDX), stock options (OPTSTK) and other indices are passed over; a row of ours that
  does not read is skipped and counted (one log line a file)
- the download counts only whole (`MarketDataUnavailableError`, the day keeps yesterday's
  listing): either file's HTTP error or timeout, a body that is not a zip of one text, a header
  without the columns above, or a file without a single readable index option
- `timeout_s` bounds the connect and each read of the body (requests' timeout), not the transfer
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
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

SOURCE = "finvasia"
SYMBOL_FILES_URL = "https://api.shoonya.com/"
EXCHANGES: dict[str, Exchange] = {"NFO": Exchange.NSE, "BFO": Exchange.BSE}
NAMES: dict[str, Underlying] = {
    **{u.value: u for u in Underlying},
    "BSXOPT": Underlying.SENSEX,
    "BKXOPT": Underlying.BANKEX,
}
COLUMNS = (
    "Exchange",
    "Token",
    "LotSize",
    "Symbol",
    "TradingSymbol",
    "Expiry",
    "Instrument",
    "OptionType",
    "StrikePrice",
    "TickSize",
)
_EXPIRY_FORMAT = "%d-%b-%Y"  # 29-DEC-2026
_UNREADABLE = (KeyError, TypeError, ValueError, ArithmeticError, ValidationError)
# a corrupt archive surfaces as any of these (ValueError: a text that is not UTF-8, too;
# NotImplementedError: zipfile's answer to a compression method it does not support)
_NOT_A_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


def file_name(exchange: str) -> str:
    return f"{exchange}_symbols.txt.zip"


def _failed(exchange: str, cause: str, detail: str) -> MarketDataUnavailableError:
    return MarketDataUnavailableError(message=f"{SOURCE} {file_name(exchange)}: {cause}: {detail}")


def _text(row: Mapping[str, str | None], column: str) -> str:
    value = (row[column] or "").strip()
    if not value:
        raise ValueError(f"{column}: empty")
    return value


def _plain(text: str) -> Decimal:
    """26000, not 26000.00: as the other sources write it."""
    value = Decimal(text).normalize()
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _day(text: str) -> date:
    """An exchange's calendar date (IST)."""
    return datetime.strptime(text, _EXPIRY_FORMAT).replace(tzinfo=IST).date()


def _contract(row: Mapping[str, str | None], underlying: Underlying) -> ListedContract:
    return ListedContract(
        underlying=underlying,
        expiry=_day(_text(row, "Expiry")),
        strike=_plain(_text(row, "StrikePrice")),
        option_type=OptionType(_text(row, "OptionType")),
        lot_size=int(_text(row, "LotSize")),
        tick_size=_plain(_text(row, "TickSize")),
        tradingsymbol=_text(row, "TradingSymbol"),
        token=_text(row, "Token"),
    )


def _unzip(exchange: str, body: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = [member for member in archive.infolist() if not member.is_dir()]
            if len(members) != 1:
                names = [member.filename for member in members]
                raise _failed(exchange, "malformed answer", f"a zip of {len(members)} files {names}, not one")
            return archive.read(members[0]).decode("utf-8-sig")
    except _NOT_A_ZIP as error:
        raise _failed(
            exchange, "malformed answer", f"not a zip of a text ({len(body)} bytes): {error}"
        ) from error


def read_symbol_file(exchange: str, text: str) -> list[ListedContract]:
    """The index options of one symbol file's text; raises when it lists none that reads."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise _failed(exchange, "malformed answer", f"missing columns {missing}")
    reader.fieldnames = header
    found: list[ListedContract] = []
    malformed = rows = 0
    try:
        for row in reader:
            rows += 1
            if any(row.get(column) is None for column in COLUMNS):  # a line cut short
                malformed += 1
                continue
            underlying = NAMES.get((row["Symbol"] or "").strip())
            if (
                (row["Instrument"] or "").strip() != "OPTIDX"
                or (row["Exchange"] or "").strip() != exchange
                or underlying is None
                or EXCHANGE_OF[underlying] is not EXCHANGES[exchange]
            ):
                continue  # not an index option of ours: futures, stocks, other indices
            try:
                found.append(_contract(row, underlying))
            except _UNREADABLE:
                malformed += 1
    except csv.Error as error:
        raise _failed(exchange, "malformed answer", f"unreadable CSV at row {rows + 1}: {error}") from error
    if not found:
        detail = f"{rows} rows, {malformed} unreadable index options"
        raise _failed(
            exchange, "malformed answer", f"no readable index option of a supported underlying ({detail})"
        )
    counts = {"rows": rows, "contracts": len(found), "malformed": malformed}
    if malformed:
        logger.warning(f"{SOURCE} {file_name(exchange)}: unreadable index-option rows skipped", extra=counts)
    else:
        logger.info(f"{SOURCE} {file_name(exchange)}: read", extra=counts)
    return found


class NorenSymbolFiles:
    """The `listed_contracts()` of an instrument source, from Shoonya's public symbol files."""

    def __init__(
        self,
        base_url: str = SYMBOL_FILES_URL,
        timeout_s: float = 30,
        session: requests.Session | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def listed_contracts(self) -> list[ListedContract]:
        """Both files, or an error: a listing without BSE (or NSE) is never returned."""
        found: list[ListedContract] = []
        for exchange in EXCHANGES:
            found.extend(read_symbol_file(exchange, _unzip(exchange, self._download(exchange))))
        return found

    def _download(self, exchange: str) -> bytes:
        url = f"{self._base_url}/{file_name(exchange)}"
        return fetch(self._session, url, self._timeout_s, f"{SOURCE} {file_name(exchange)}")
