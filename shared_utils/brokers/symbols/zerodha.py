"""Kite trading symbols for index options (NFO and BFO share the scheme).

Weekly:  {NAME}{YY}{M}{DD}{STRIKE}{CE|PE}, M = 1-9 for Jan-Sep, O/N/D for Oct-Dec
         e.g. NIFTY2511324000CE (NIFTY, 13 Jan 2025, 24000 CE).
Monthly: {NAME}{YY}{MON}{STRIKE}{CE|PE}, e.g. NIFTY25JAN24000CE (the month's last expiry).
Whether an expiry is the monthly one comes from the instrument (`monthly`), which the planner sets
from the expiry calendar. Source: Kite instruments dump naming; check against it on a new index.

An index is quoted by its spot name, which is not the options' name (`NSE:NIFTY 50`, not
`NSE:NIFTY`): `INDEX_QUOTE_NAMES`, the `exchange:tradingsymbol` of the index in the same dump.
"""

from __future__ import annotations

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text
from shared_utils.market.underlyings import Underlying

_WEEKLY_MONTH = "123456789OND"

INDEX_QUOTE_NAMES: dict[Underlying, str] = {
    Underlying.NIFTY: "NSE:NIFTY 50",
    Underlying.BANKNIFTY: "NSE:NIFTY BANK",
    Underlying.FINNIFTY: "NSE:NIFTY FIN SERVICE",
    Underlying.MIDCPNIFTY: "NSE:NIFTY MID SELECT",
    Underlying.NIFTYNXT50: "NSE:NIFTY NEXT 50",
    Underlying.SENSEX: "BSE:SENSEX",
    Underlying.BANKEX: "BSE:BANKEX",
}


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    year = f"{expiry.year % 100:02d}"
    if instrument.monthly:
        expiry_text = f"{year}{MONTHS[expiry.month - 1]}"
    else:
        expiry_text = f"{year}{_WEEKLY_MONTH[expiry.month - 1]}{expiry.day:02d}"
    strike = strike_text(instrument.strike)
    return f"{instrument.underlying.value}{expiry_text}{strike}{instrument.option_type.value}"
