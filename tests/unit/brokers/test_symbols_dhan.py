from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared_utils.brokers.models import DerivativesExchange, OptionInstrument
from shared_utils.brokers.symbols import dhan
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
        # NFO weekly and monthly: Dhan's display symbol carries the day either way
        (contract(Underlying.NIFTY, date(2024, 10, 3), "25800", "CE"), "NIFTY 03 OCT 25800 CALL"),
        (
            contract(Underlying.NIFTY, date(2024, 10, 31), "25800", "PE", monthly=True),
            "NIFTY 31 OCT 25800 PUT",
        ),
        (
            contract(Underlying.NIFTY, date(2026, 11, 24), "24000", "CE", monthly=True),
            "NIFTY 24 NOV 24000 CALL",
        ),
        (
            contract(Underlying.BANKNIFTY, date(2026, 11, 24), "58500", "PE", monthly=True),
            "BANKNIFTY 24 NOV 58500 PUT",
        ),
        (
            contract(Underlying.FINNIFTY, date(2026, 12, 29), "27000", "CE", monthly=True),
            "FINNIFTY 29 DEC 27000 CALL",
        ),
        (
            contract(Underlying.NIFTYNXT50, date(2026, 11, 24), "70000", "CE", monthly=True),
            "NIFTYNXT50 24 NOV 70000 CALL",
        ),
        # BFO weekly and monthly
        (contract(Underlying.SENSEX, date(2026, 11, 5), "85000", "CE"), "SENSEX 05 NOV 85000 CALL"),
        (
            contract(Underlying.SENSEX, date(2026, 11, 26), "85000", "PE", monthly=True),
            "SENSEX 26 NOV 85000 PUT",
        ),
        (
            contract(Underlying.BANKEX, date(2026, 11, 26), "62000", "CE", monthly=True),
            "BANKEX 26 NOV 62000 CALL",
        ),
    ],
)
def test_weekly_and_monthly_on_both_segments(instrument: OptionInstrument, expected: str) -> None:
    assert dhan.tradingsymbol(instrument) == expected


def test_weekly_contracts_of_one_month_get_distinct_symbols() -> None:
    """Dhan's SEM_TRADING_SYMBOL (NIFTY-Oct2024-25800-CE) is the same for both: this one is not."""
    first = contract(Underlying.NIFTY, date(2024, 10, 3), "25800", "CE")
    later = contract(Underlying.NIFTY, date(2024, 10, 24), "25800", "CE")
    assert dhan.tradingsymbol(first) != dhan.tradingsymbol(later)


def test_monthly_flag_does_not_change_the_symbol() -> None:
    weekly = contract(Underlying.NIFTY, date(2026, 11, 24), "24000", "CE")
    assert dhan.tradingsymbol(weekly) == dhan.tradingsymbol(weekly.model_copy(update={"monthly": True}))


def test_fractional_strike_has_no_trailing_zeros() -> None:
    instrument = contract(Underlying.MIDCPNIFTY, date(2026, 11, 24), "12862.50", "CE", monthly=True)
    assert dhan.tradingsymbol(instrument) == "MIDCPNIFTY 24 NOV 12862.5 CALL"


def test_segment_follows_the_underlying() -> None:
    assert contract(Underlying.SENSEX, date(2026, 11, 5), "85000", "CE").exchange is DerivativesExchange.BFO
    assert contract(Underlying.NIFTY, date(2026, 11, 24), "24000", "CE").exchange is DerivativesExchange.NFO
