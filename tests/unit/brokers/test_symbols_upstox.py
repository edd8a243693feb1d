"""Upstox trading symbols: the JSON master's `<underlying> <strike> <CE|PE> <dd MMM yy>`, one format
for weekly and monthly contracts on NSE and BSE, and the instrument keys orders carry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared_utils.brokers.models import DerivativesExchange, OptionInstrument
from shared_utils.brokers.symbols import upstox
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying


def contract(
    underlying: Underlying, expiry: date, strike: str, kind: str, monthly: bool = False
) -> OptionInstrument:
    return OptionInstrument(
        underlying=underlying,
        expiry=expiry,
        strike=Decimal(strike),
        option_type=OptionType(kind),
        monthly=monthly,
    )


@pytest.mark.parametrize(
    ("instrument", "expected"),
    [
        # Upstox's own samples: "NIFTY 19650 CE 15 FEB 24" (weekly), "IDEA 22 CE 25 JAN 24"
        (contract(Underlying.NIFTY, date(2024, 2, 15), "19650", "CE"), "NIFTY 19650 CE 15 FEB 24"),
        (contract(Underlying.NIFTY, date(2026, 12, 1), "26000", "PE"), "NIFTY 26000 PE 01 DEC 26"),
        (
            contract(Underlying.NIFTY, date(2026, 12, 29), "26000", "CE", monthly=True),
            "NIFTY 26000 CE 29 DEC 26",
        ),
        (
            contract(Underlying.BANKNIFTY, date(2026, 12, 29), "59000", "PE", monthly=True),
            "BANKNIFTY 59000 PE 29 DEC 26",
        ),
        (
            contract(Underlying.FINNIFTY, date(2026, 12, 29), "27500", "CE", monthly=True),
            "FINNIFTY 27500 CE 29 DEC 26",
        ),
        (
            contract(Underlying.NIFTYNXT50, date(2027, 1, 26), "68000", "PE", monthly=True),
            "NIFTYNXT50 68000 PE 26 JAN 27",
        ),
        (contract(Underlying.SENSEX, date(2026, 12, 3), "85000", "CE"), "SENSEX 85000 CE 03 DEC 26"),
        (
            contract(Underlying.BANKEX, date(2026, 12, 31), "62000", "PE", monthly=True),
            "BANKEX 62000 PE 31 DEC 26",
        ),
    ],
)
def test_nfo_and_bfo_weekly_and_monthly(instrument: OptionInstrument, expected: str) -> None:
    assert upstox.tradingsymbol(instrument) == expected


def test_weekly_and_monthly_share_the_format() -> None:
    """Unlike the exchange's (and Kite's) symbols, the JSON master names both expiries alike."""
    weekly = contract(Underlying.NIFTY, date(2026, 12, 29), "26000", "CE", monthly=False)
    monthly = weekly.model_copy(update={"monthly": True})
    assert upstox.tradingsymbol(weekly) == upstox.tradingsymbol(monthly) == "NIFTY 26000 CE 29 DEC 26"


def test_a_fractional_strike_has_no_trailing_zeros() -> None:
    instrument = contract(Underlying.MIDCPNIFTY, date(2027, 1, 25), "12862.50", "CE", monthly=True)
    assert upstox.tradingsymbol(instrument) == "MIDCPNIFTY 12862.5 CE 25 JAN 27"


def test_a_single_digit_day_is_written_with_two_digits() -> None:
    assert upstox.tradingsymbol(contract(Underlying.SENSEX, date(2027, 2, 4), "80000", "PE")) == (
        "SENSEX 80000 PE 04 FEB 27"
    )


@pytest.mark.parametrize(
    ("exchange", "key"),
    [(DerivativesExchange.NFO, "NSE_FO|43650"), (DerivativesExchange.BFO, "BSE_FO|43650")],
)
def test_instrument_keys_carry_the_segment_of_the_exchange(exchange: DerivativesExchange, key: str) -> None:
    assert upstox.instrument_key(exchange, "43650") == key
    assert set(upstox.INSTRUMENT_KEY_SEGMENTS) == set(DerivativesExchange)
