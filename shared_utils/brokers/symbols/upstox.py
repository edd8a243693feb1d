"""Upstox trading symbols: the `trading_symbol` of Upstox's JSON instrument master.

Format (Upstox, Instruments, "Options" field description):
`<underlying_symbol> <strike_price> <CE/PE> <expiry in dd MMM yy>`, e.g. `NIFTY 24000 CE 24 NOV 26`
(documented samples: `NIFTY 19650 CE 15 FEB 24`, `IDEA 22 CE 25 JAN 24`). Upstox introduced the JSON
master to end the CSV's differing weekly and monthly symbols, so weekly and monthly contracts share
the one format (`instrument.monthly` changes nothing); NSE (NSE_FO) and BSE (BSE_FO) alike.
Source: https://upstox.com/developer/api-documentation/instruments

This is the symbol the master, the symbol book and the token lookup key contracts by. Upstox's
order book, positions and quotes name a contract differently, by the exchange's symbol
(`BANKNIFTY23OCT38000PE`, `NIFTY2543021600PE`), and every Upstox API addresses it by its
instrument key, `NSE_FO|<token>` / `BSE_FO|<token>` (`INSTRUMENT_KEY_SEGMENTS`).

Not confirmed against a downloaded master: a fractional strike's text (taken as `12862.5`, no
trailing zeros) and an index without an example (NIFTYNXT50, BANKEX: the underlying symbol is
assumed to be the index's F&O symbol, as for NIFTY).
"""

from __future__ import annotations

from shared_utils.brokers.models import DerivativesExchange, OptionInstrument
from shared_utils.brokers.symbols import MONTHS, strike_text

# The segment part of an Upstox instrument key, per derivatives exchange.
INSTRUMENT_KEY_SEGMENTS: dict[DerivativesExchange, str] = {
    DerivativesExchange.NFO: "NSE_FO",
    DerivativesExchange.BFO: "BSE_FO",
}


def tradingsymbol(instrument: OptionInstrument) -> str:
    expiry = instrument.expiry
    return (
        f"{instrument.underlying.value} {strike_text(instrument.strike)} {instrument.option_type.value} "
        f"{expiry.day:02d} {MONTHS[expiry.month - 1]} {expiry.year % 100:02d}"
    )


def instrument_key(exchange: DerivativesExchange, token: str) -> str:
    """`NSE_FO|43650`: how Upstox's APIs address a contract."""
    return f"{INSTRUMENT_KEY_SEGMENTS[exchange]}|{token}"
