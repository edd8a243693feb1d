"""A contract's strike reaches a client as a plain number, never as a normalised Decimal's
exponent form (the positions route answered "2.605E+4" for the 26050 strike)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from shared_utils.brokers.models import OptionInstrument
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying


@pytest.mark.parametrize(
    ("strike", "shown"),
    [(Decimal("26050.00").normalize(), 26050), (Decimal("2.605E+4"), 26050), (Decimal("26050.50"), 26050.5)],
)
def test_a_strike_is_a_plain_number_and_reads_back_as_the_same_contract(
    strike: Decimal, shown: float
) -> None:
    contract = OptionInstrument(
        underlying=Underlying.NIFTY, expiry=date(2026, 12, 1), strike=strike, option_type=OptionType.CE
    )
    text = contract.model_dump_json()

    assert json.loads(text)["strike"] == shown and "E+" not in text
    assert OptionInstrument.model_validate_json(text) == contract
    assert OptionInstrument.model_validate_json(text).key == contract.key
