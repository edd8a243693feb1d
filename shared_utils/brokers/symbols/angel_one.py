"""Angel One SmartAPI trading symbols: {NAME}{DD}{MON}{YY}{STRIKE}{CE|PE} for weekly and monthly.

e.g. NIFTY26DEC2424000CE. Angel One also needs the numeric `symboltoken` of the contract, which
comes from its scrip master (`OpenAPIScripMaster.json`); see `ScripMasterTokens`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value}{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"
        f"{strike_text(instrument.strike)}{instrument.option_type.value}"
    )


class ScripMasterTokens:
    """(exchange, tradingsymbol) -> symboltoken, built from scrip-master records
    (`{"token": "43650", "symbol": "NIFTY26DEC2424000CE", "exch_seg": "NFO", ...}`)."""

    def __init__(self, records: Iterable[Mapping[str, object]]) -> None:
        self._tokens = {
            (str(record["exch_seg"]), str(record["symbol"])): str(record["token"])
            for record in records
            if record.get("exch_seg") in ("NFO", "BFO")
        }

    def __call__(self, exchange: str, symbol: str) -> str | None:
        return self._tokens.get((exchange, symbol))

    def __len__(self) -> int:
        return len(self._tokens)
