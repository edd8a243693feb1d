"""The index underlyings the platform trades. Their contract specifications are data (see specs)."""

from __future__ import annotations

from enum import StrEnum


class Exchange(StrEnum):
    NSE = "NSE"
    BSE = "BSE"


class Underlying(StrEnum):
    NIFTY = "NIFTY"
    BANKNIFTY = "BANKNIFTY"
    FINNIFTY = "FINNIFTY"
    MIDCPNIFTY = "MIDCPNIFTY"
    NIFTYNXT50 = "NIFTYNXT50"
    SENSEX = "SENSEX"
    BANKEX = "BANKEX"


EXCHANGE_OF: dict[Underlying, Exchange] = {
    Underlying.NIFTY: Exchange.NSE,
    Underlying.BANKNIFTY: Exchange.NSE,
    Underlying.FINNIFTY: Exchange.NSE,
    Underlying.MIDCPNIFTY: Exchange.NSE,
    Underlying.NIFTYNXT50: Exchange.NSE,
    Underlying.SENSEX: Exchange.BSE,
    Underlying.BANKEX: Exchange.BSE,
}
