from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared_utils.brokers.models import DerivativesExchange, OptionInstrument
from shared_utils.brokers.symbols import angel_one, finvasia, zerodha
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
        (contract(Underlying.NIFTY, date(2025, 1, 9), "24000", "CE"), "NIFTY2510924000CE"),
        (contract(Underlying.NIFTY, date(2025, 10, 7), "25050", "PE"), "NIFTY25O0725050PE"),
        (contract(Underlying.NIFTY, date(2025, 11, 4), "25050", "PE"), "NIFTY25N0425050PE"),
        (contract(Underlying.NIFTY, date(2025, 12, 2), "26000", "CE"), "NIFTY25D0226000CE"),
        (
            contract(Underlying.BANKNIFTY, date(2025, 1, 30), "51000", "PE", monthly=True),
            "BANKNIFTY25JAN51000PE",
        ),
        (contract(Underlying.SENSEX, date(2025, 1, 14), "80000", "CE"), "SENSEX2511480000CE"),
    ],
)
def test_zerodha_weekly_and_monthly(instrument: OptionInstrument, expected: str) -> None:
    assert zerodha.tradingsymbol(instrument) == expected


def test_angel_one_and_finvasia_formats() -> None:
    instrument = contract(Underlying.NIFTY, date(2024, 12, 26), "24000", "CE", monthly=True)
    assert angel_one.tradingsymbol(instrument) == "NIFTY26DEC2424000CE"
    assert finvasia.tradingsymbol(instrument) == "NIFTY26DEC24C24000"
    assert finvasia.tradingsymbol(contract(Underlying.FINNIFTY, date(2024, 12, 3), "23550", "PE")) == (
        "FINNIFTY03DEC24P23550"
    )


def test_fractional_strike_has_no_trailing_zeros() -> None:
    instrument = contract(Underlying.MIDCPNIFTY, date(2025, 1, 27), "12862.50", "CE", monthly=True)
    assert zerodha.tradingsymbol(instrument) == "MIDCPNIFTY25JAN12862.5CE"


def test_exchange_segment_follows_the_underlying() -> None:
    assert contract(Underlying.SENSEX, date(2025, 1, 14), "80000", "CE").exchange is DerivativesExchange.BFO
    assert contract(Underlying.NIFTY, date(2025, 1, 9), "24000", "CE").exchange is DerivativesExchange.NFO


@pytest.mark.parametrize("strike", ["24000", "24012.5"])
def test_a_contract_key_names_the_contract_back(strike: str) -> None:
    contract = OptionInstrument(
        underlying=Underlying.BANKEX,
        expiry=date(2026, 12, 28),
        strike=Decimal(strike),
        option_type=OptionType.PE,
    )

    assert contract.key == f"BANKEX|2026-12-28|{strike}|PE"
    assert OptionInstrument.from_key(contract.key) == contract
