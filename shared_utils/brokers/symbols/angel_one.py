"""Angel One SmartAPI trading symbols: {NAME}{DD}{MON}{YY}{STRIKE}{CE|PE} for weekly and monthly.

e.g. NIFTY26DEC2424000CE. Angel One also needs the numeric `symboltoken` of the contract, which
comes from its scrip master (`OpenAPIScripMaster.json`), kept as its symbol book
(`market_data/symbol_book.py`).

An index is quoted by its own token on the cash segment (`NSE`/`BSE`, the underlying's exchange):
`INDEX_TOKENS`, from the `AMXIDX` rows of the same scrip master (fixed: expiries do not touch
them). Checked against public code using them, not against a downloaded master: confirm on a new one.
"""

from __future__ import annotations

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text
from shared_utils.market.underlyings import Underlying

# Quoted on `EXCHANGE_OF[underlying]` (NSE or BSE); the symbols are the scrip master's.
INDEX_TOKENS: dict[Underlying, str] = {
    Underlying.NIFTY: "99926000",  # Nifty 50
    Underlying.BANKNIFTY: "99926009",  # Nifty Bank
    Underlying.FINNIFTY: "99926037",  # Nifty Fin Service
    Underlying.MIDCPNIFTY: "99926074",  # NIFTY MID SELECT
    Underlying.NIFTYNXT50: "99926013",  # Nifty Next 50
    Underlying.SENSEX: "99919000",  # SENSEX
    Underlying.BANKEX: "99919012",  # BANKEX
}


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value}{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"
        f"{strike_text(instrument.strike)}{instrument.option_type.value}"
    )
