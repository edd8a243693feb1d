"""Dhan's instrument master, the public compact scrip master CSV (no login; URL and columns from
https://dhanhq.co/docs/v2/instruments/), read into the platform's `ListedContract`s: the index
options of the supported underlyings on NSE and BSE F&O.

- one CSV with a header row; the compact columns, and an index option's row:
  SEM_EXM_EXCH_ID,SEM_SEGMENT,SEM_SMST_SECURITY_ID,SEM_INSTRUMENT_NAME,SEM_EXPIRY_CODE,
  SEM_TRADING_SYMBOL,SEM_LOT_UNITS,SEM_CUSTOM_SYMBOL,SEM_EXPIRY_DATE,SEM_STRIKE_PRICE,
  SEM_OPTION_TYPE,SEM_TICK_SIZE,SEM_EXPIRY_FLAG,SEM_EXCH_INSTRUMENT_TYPE,SEM_SERIES,SM_SYMBOL_NAME
  NSE,D,45671,OPTIDX,0,NIFTY-Nov2026-24000-CE,65.0,NIFTY 24 NOV 24000 CALL,2026-11-24 14:30:00,
  24000.00000,CE,5.0000,W,OP,,
- an index option is exchange NSE or BSE, segment D (derivatives), instrument OPTIDX; its
  underlying is the trading symbol's name before the first `-` (SM_SYMBOL_NAME is often empty on
  derivative rows), which must be an `Underlying` listed on that exchange (NIFTY on NSE, SENSEX
  on BSE; SENSEX50 and other indices are not ours)
- SEM_EXPIRY_DATE is an IST date-time whose date is the expiry; SEM_LOT_UNITS reads `65.0`
- SEM_TICK_SIZE is in paise on the rows seen (5.0000 for an index option's 0.05 rupee tick,
  10.0000 for an index future's 0.10): a value of 1 or more is divided by 100; one below 1 is
  taken as rupees already (no index option ticks below a paisa). Dhan describes the column only
  as the "minimum decimal point at which an instrument can be priced"
- the token is SEM_SMST_SECURITY_ID, the `securityId` Dhan's orders carry
- the trading symbol is Dhan's display symbol (`NIFTY 24 NOV 24000 CALL`) rendered from the
  row's own fields by `brokers.symbols.dhan.tradingsymbol`, not SEM_TRADING_SYMBOL, which every
  weekly expiry of a month shares (see there). A row whose SEM_CUSTOM_SYMBOL reads otherwise is
  kept and counted (the log line shows if Dhan changed its scheme). Two contracts of one segment
  with one symbol (the display symbol has no year) are both dropped and counted: an order for
  either is then refused unsent instead of reaching the other.
- futures, stock options, other indices, exchanges and segments are passed over; a row of ours
  that does not read is skipped and counted (one log line)
- the download counts only whole (`MarketDataUnavailableError`, the day keeps yesterday's
  listing): an HTTP error or timeout, a body that is not UTF-8 CSV with the columns above, or one
  without a single readable index option
- `timeout_s` bounds the connect and each read of the body (requests' timeout), not the transfer
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

import requests
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import dhan as symbols
from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import EXCHANGE_OF, Exchange, Underlying
from shared_utils.market_data.download import fetch
from shared_utils.market_data.listing import ListedContract

logger = Logger(child=True)

SOURCE = "dhan scrip master"
COMPACT_URL = "https://images.dhan.co/api-data/api-scrip-master.csv"  # the SDK's COMPACT_CSV_URL
PAISE_PER_RUPEE = 100
EXCHANGES: dict[str, Exchange] = {"NSE": Exchange.NSE, "BSE": Exchange.BSE}
NAMES: dict[str, Underlying] = {u.value: u for u in Underlying}
DERIVATIVES_SEGMENT = "D"
INDEX_OPTION = "OPTIDX"
COLUMNS = (
    "SEM_EXM_EXCH_ID",
    "SEM_SEGMENT",
    "SEM_SMST_SECURITY_ID",
    "SEM_INSTRUMENT_NAME",
    "SEM_TRADING_SYMBOL",
    "SEM_LOT_UNITS",
    "SEM_EXPIRY_DATE",
    "SEM_STRIKE_PRICE",
    "SEM_OPTION_TYPE",
    "SEM_TICK_SIZE",
)
_UNREADABLE = (KeyError, TypeError, ValueError, ArithmeticError, ValidationError)


def _failed(cause: str, detail: str) -> MarketDataUnavailableError:
    return MarketDataUnavailableError(message=f"{SOURCE}: {cause}: {detail}")


def _text(row: Mapping[str, str | None], key: str) -> str:
    value = row.get(key)
    if value is None or not value.strip():
        raise ValueError(f"{key}: {value!r}")
    return value.strip()


def _plain(number: Decimal) -> Decimal:
    """26000, 0.05: not 2.6E+4 or 0.05000."""
    value = number.normalize()
    if not value.is_finite():
        raise ValueError(f"not a number: {number!r}")
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _tick(text: str) -> Decimal:
    value = Decimal(text)
    return _plain(value / PAISE_PER_RUPEE if value >= 1 else value)


def _underlying(row: Mapping[str, str | None], exchange: Exchange) -> Underlying | None:
    name = (row.get("SEM_TRADING_SYMBOL") or "").strip().split("-", 1)[0]
    underlying = NAMES.get(name)
    return underlying if underlying is not None and EXCHANGE_OF[underlying] is exchange else None


def _contract(row: Mapping[str, str | None], underlying: Underlying) -> ListedContract:
    instrument = OptionInstrument(
        underlying=underlying,
        expiry=date.fromisoformat(_text(row, "SEM_EXPIRY_DATE")[:10]),
        strike=_plain(Decimal(_text(row, "SEM_STRIKE_PRICE"))),
        option_type=OptionType(_text(row, "SEM_OPTION_TYPE")),
    )
    lot_size = Decimal(_text(row, "SEM_LOT_UNITS"))
    if lot_size != lot_size.to_integral_value():
        raise ValueError(f"lot size {lot_size}")
    return ListedContract(
        underlying=underlying,
        expiry=instrument.expiry,
        strike=instrument.strike,
        option_type=instrument.option_type,
        lot_size=int(lot_size),
        tick_size=_tick(_text(row, "SEM_TICK_SIZE")),
        tradingsymbol=symbols.tradingsymbol(instrument),
        token=_text(row, "SEM_SMST_SECURITY_ID"),
    )


def _unique(contracts: Iterable[ListedContract]) -> tuple[list[ListedContract], int]:
    """Contracts whose (segment, symbol) names no other; and how many were dropped."""
    listed = list(contracts)
    names = Counter((EXCHANGE_OF[c.underlying], c.tradingsymbol) for c in listed)
    kept = [c for c in listed if names[(EXCHANGE_OF[c.underlying], c.tradingsymbol)] == 1]
    return kept, len(listed) - len(kept)


def read_scrip_master(text: str) -> list[ListedContract]:
    """The index options of the compact scrip master's text; raises when none reads."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        raise _failed("malformed answer", f"no column {', '.join(missing)}")
    found: list[ListedContract] = []
    rows = malformed = renamed = 0
    try:
        for row in reader:
            rows += 1
            exchange = EXCHANGES.get((row.get("SEM_EXM_EXCH_ID") or "").strip())
            if (
                exchange is None
                or (row.get("SEM_SEGMENT") or "").strip() != DERIVATIVES_SEGMENT
                or (row.get("SEM_INSTRUMENT_NAME") or "").strip() != INDEX_OPTION
            ):
                continue  # not an index option: equities, futures, stock options, other exchanges
            underlying = _underlying(row, exchange)
            if underlying is None:
                continue  # another index (SENSEX50, BANKEX on NSE ...)
            try:
                contract = _contract(row, underlying)
            except _UNREADABLE:
                malformed += 1
                continue
            display = (row.get("SEM_CUSTOM_SYMBOL") or "").strip()
            renamed += bool(display) and display != contract.tradingsymbol
            found.append(contract)
    except csv.Error as error:
        raise _failed("malformed answer", f"not CSV at row {rows + 1}: {error}") from error
    found, ambiguous = _unique(found)
    if not found:
        detail = f"{rows} rows, {malformed} unreadable index options, {ambiguous} ambiguous"
        raise _failed("malformed answer", f"no readable index option of a supported underlying ({detail})")
    counts = {
        "rows": rows,
        "contracts": len(found),
        "malformed": malformed,
        "ambiguous": ambiguous,
        "display_symbol_differs": renamed,
    }
    if malformed or ambiguous or renamed:
        logger.warning(f"{SOURCE}: index-option rows skipped or not as expected", extra=counts)
    else:
        logger.info(f"{SOURCE}: read", extra=counts)
    return found


class DhanScripMaster:
    """The `listed_contracts()` of an instrument source, from Dhan's public compact scrip master."""

    def __init__(
        self,
        url: str = COMPACT_URL,
        timeout_s: float = 60,
        session: requests.Session | None = None,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._session = session or requests.Session()

    def listed_contracts(self) -> list[ListedContract]:
        return read_scrip_master(self._text(self._download()))

    def _download(self) -> bytes:
        return fetch(self._session, self._url, self._timeout_s, SOURCE)

    @staticmethod
    def _text(body: bytes) -> str:
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _failed("malformed answer", f"not UTF-8 text ({len(body)} bytes): {error}") from error
