"""The charges of index-option orders from the effective-dated table, against sums done by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared_utils.errors import ConfigurationError
from shared_utils.market.charges import default_charges, load_charges
from shared_utils.market.options import Action
from shared_utils.market.underlyings import Exchange

AFTER_BUDGET_2026 = date(2026, 6, 10)
BEFORE_BUDGET_2026 = date(2025, 1, 15)
BROKERAGE = Decimal("20")


def test_a_nifty_sell_pays_stt_at_the_2026_rate_and_no_stamp_duty() -> None:
    # 75 x 120.40 = 9,030.00 of premium.
    charges = default_charges().order(
        Action.SELL, 75, Decimal("120.40"), AFTER_BUDGET_2026, Exchange.NSE, BROKERAGE
    )
    assert charges.stt == Decimal("13.55")  # 0.15% = 13.545, half up
    assert charges.exchange_transaction == Decimal("3.16")  # 0.03503% = 3.163209
    assert charges.sebi_fee == Decimal("0.01")  # Rs 10 a crore = 0.00903
    assert charges.stamp_duty == Decimal("0.00")
    assert charges.gst == Decimal("4.17")  # 18% of (20 + 3.16 + 0.01) = 4.1706
    assert charges.total == Decimal("40.89")


def test_a_nifty_buy_pays_stamp_duty_and_no_stt() -> None:
    charges = default_charges().order(
        Action.BUY, 75, Decimal("120.40"), AFTER_BUDGET_2026, Exchange.NSE, BROKERAGE
    )
    assert (charges.stt, charges.stamp_duty) == (Decimal("0.00"), Decimal("0.27"))  # 0.003% = 0.2709
    assert charges.total == Decimal("27.61")


def test_a_sensex_order_pays_bses_charge_and_the_rate_of_its_day() -> None:
    # 20 x 300 = 6,000.00 of premium, before 2026-04-01: STT 0.1% on the sale.
    sell = default_charges().order(
        Action.SELL, 20, Decimal("300"), BEFORE_BUDGET_2026, Exchange.BSE, BROKERAGE
    )
    assert sell.stt == Decimal("6.00")
    assert sell.exchange_transaction == Decimal("1.95")  # 0.0325%
    buy = default_charges().order(Action.BUY, 20, Decimal("300"), BEFORE_BUDGET_2026, Exchange.BSE, BROKERAGE)
    assert buy.gst == Decimal("3.95")  # 18% of (20 + 1.95 + 0.01) = 3.9528
    assert buy.total == Decimal("26.09")  # 20 + 1.95 + 0.01 + 0.18 stamp + 3.95


def test_an_exercised_option_pays_stt_on_its_intrinsic_value() -> None:
    # 75 units 50 points in the money: 3,750 of intrinsic value at 0.15%.
    assert default_charges().exercise_stt(Decimal("3750"), AFTER_BUDGET_2026, Exchange.NSE) == Decimal("5.63")


def test_a_day_the_table_does_not_cover_is_refused_not_guessed() -> None:
    with pytest.raises(ConfigurationError, match="no EXCHANGE_TRANSACTION rate for NSE on 2024-09-30"):
        default_charges().order(Action.SELL, 75, Decimal("100"), date(2024, 9, 30), Exchange.NSE, BROKERAGE)


def test_overlapping_rates_of_one_charge_are_a_data_error() -> None:
    row = {"charge": "STT", "basis": "PREMIUM", "side": "SELL", "rate": "0.001", "source": "x"}
    with pytest.raises(ConfigurationError, match="overlap"):
        load_charges(
            {
                "rates": [
                    row | {"from": "2024-10-01", "until": "2026-04-30"},
                    row | {"from": "2026-04-01", "until": None},
                ]
            }
        )
