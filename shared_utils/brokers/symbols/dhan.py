"""Dhan trading symbols: Dhan's display symbol, {NAME} {DD} {MON} {STRIKE} {CALL|PUT}, for NFO and
BFO, weekly and monthly alike, e.g. `NIFTY 24 NOV 24000 CALL`, `SENSEX 26 NOV 85000 PUT`.

Dhan addresses a contract by its numeric `securityId` only (`SEM_SMST_SECURITY_ID` of its scrip
master, https://dhanhq.co/docs/v2/instruments/); the symbol here is the key the platform looks
that id up by, so it must name exactly one contract. Dhan's scrip master has two symbol columns:

- `SEM_TRADING_SYMBOL` ("exchange trading symbol"), {NAME}-{Mon}{YYYY}-{STRIKE}-{CE|PE}, e.g.
  `NIFTY-Oct2024-25800-CE`, carries the month but not the day: every weekly expiry of a month
  shares it (`NIFTY-Oct2024-25800-CE` is the 3 Oct and the 24 Oct 2024 contract alike), so it
  cannot key a contract;
- `SEM_CUSTOM_SYMBOL` / `DISPLAY_NAME` ("Dhan display symbol name"), `NIFTY 24 OCT 25800 CALL`,
  carries the expiry day: this is the form used here. The same scheme serves weekly and monthly
  contracts (`instrument.monthly` does not change it) and both segments.

The formats are as Dhan's scrip master rows show them (its documentation names the columns but
gives no pattern); `market_data/dhan_master.py` renders each listed contract's symbol with this
function from the row's own fields, so the book, these rules and `positions()` always agree.
The display symbol has no year: two listed contracts of one index expiring on the same day and
month of different years would share it, and the master reader drops such a pair (refused unsent
rather than matched to the wrong year).
"""

from __future__ import annotations

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text
from shared_utils.market.options import OptionType

OPTION_WORDS: dict[OptionType, str] = {OptionType.CE: "CALL", OptionType.PE: "PUT"}


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value} {expiry.day:02d} {MONTHS[expiry.month - 1]} "
        f"{strike_text(instrument.strike)} {OPTION_WORDS[instrument.option_type]}"
    )
