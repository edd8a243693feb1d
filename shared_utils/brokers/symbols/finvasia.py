"""Finvasia (Shoonya / Noren) trading symbols: {NAME}{DD}{MON}{YY}{C|P}{STRIKE}.

e.g. NIFTY26DEC24C24000 for both weekly and monthly NFO contracts. BFO contracts are assumed to
follow the same scheme; verify against the Noren `BFO_symbols` master before trading SENSEX/BANKEX.
"""

from __future__ import annotations

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value}{expiry.day:02d}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"
        f"{instrument.option_type.value[0]}{strike_text(instrument.strike)}"
    )
