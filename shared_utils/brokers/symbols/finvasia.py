"""Finvasia (Shoonya / Noren) trading symbols: {NAME}{DD}{MON}{YY}{C|P}{STRIKE}.

e.g. NIFTY26DEC24C24000 for both weekly and monthly NFO contracts. BFO contracts are assumed to
follow the same scheme; verify against the Noren `BFO_symbols` master before trading SENSEX/BANKEX.
"""

from __future__ import annotations

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text
from shared_utils.market.underlyings import Underlying


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value}{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"
        f"{instrument.option_type.value[0]}{strike_text(instrument.strike)}"
    )


# Noren's index tokens (NSE, BSE): what GetQuotes takes for an index level.
INDEX_TOKENS: dict[Underlying, str] = {
    Underlying.NIFTY: "26000",  # Nifty 50
    Underlying.BANKNIFTY: "26009",  # Nifty Bank
    Underlying.FINNIFTY: "26037",  # Nifty Fin Service
    Underlying.MIDCPNIFTY: "26074",  # NIFTY MID SELECT
    Underlying.NIFTYNXT50: "26013",  # Nifty Next 50
    Underlying.SENSEX: "1",  # SENSEX
    Underlying.BANKEX: "12",  # BANKEX
}
