"""What an index-option order costs beyond its premium: brokerage, STT, the exchange's
transaction charge, the SEBI fee, stamp duty and GST, from the effective-dated table in
`data/charges.json` (sources per row, as the contract specs keep theirs).

Each charge is rounded to the paisa per order, half up; a broker's contract note may round STT
and stamp duty to the rupee per contract note. A trade date the table does not cover is an error,
never an extrapolated rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared_utils.errors import ConfigurationError
from shared_utils.market.options import Action
from shared_utils.market.underlyings import Exchange

PAISA = Decimal("0.01")
_DATA_FILE = "charges.json"


class Charge(StrEnum):
    STT = "STT"
    STT_EXERCISE = "STT_EXERCISE"
    EXCHANGE_TRANSACTION = "EXCHANGE_TRANSACTION"
    SEBI_FEE = "SEBI_FEE"
    STAMP_DUTY = "STAMP_DUTY"
    GST = "GST"


class Basis(StrEnum):
    PREMIUM = "PREMIUM"  # price x quantity of the order
    INTRINSIC = "INTRINSIC"  # (settlement - strike) x quantity of an exercised option
    BROKERAGE_EXCHANGE_SEBI = "BROKERAGE_EXCHANGE_SEBI"  # GST's base


class ChargeRate(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    charge: Charge
    basis: Basis
    side: Action | None = Field(default=None, description="the side it applies to; None: both")
    exchange: Exchange | None = Field(default=None, description="the exchange it applies to; None: both")
    rate: Decimal = Field(ge=0, lt=1)
    effective_from: date = Field(alias="from")
    effective_until: date | None = Field(default=None, alias="until")
    source: str = Field(min_length=1)

    def applies(self, charge: Charge, day: date, exchange: Exchange) -> bool:
        return (
            self.charge is charge
            and self.effective_from <= day
            and (self.effective_until is None or day <= self.effective_until)
            and (self.exchange is None or self.exchange is exchange)
        )


class OrderCharges(BaseModel):
    """The charges of one executed order, in rupees."""

    model_config = ConfigDict(frozen=True)

    brokerage: Decimal
    stt: Decimal
    exchange_transaction: Decimal
    sebi_fee: Decimal
    stamp_duty: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        return (
            self.brokerage + self.stt + self.exchange_transaction + self.sebi_fee + self.stamp_duty + self.gst
        )


def _paise(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


class ChargesTable:
    def __init__(self, rates: Sequence[ChargeRate]) -> None:
        self._rates = tuple(rates)
        for charge in Charge:
            for exchange in Exchange:
                rows = sorted(
                    (r for r in self._rates if r.charge is charge and r.exchange in (None, exchange)),
                    key=lambda r: r.effective_from,
                )
                for earlier, later in pairwise(rows):
                    if earlier.effective_until is None or earlier.effective_until >= later.effective_from:
                        raise ConfigurationError(
                            f"{charge} rates overlap for {exchange} from {later.effective_from}"
                        )

    def rate(self, charge: Charge, day: date, exchange: Exchange) -> ChargeRate:
        for row in self._rates:
            if row.applies(charge, day, exchange):
                return row
        raise ConfigurationError(f"no {charge} rate for {exchange} on {day.isoformat()} in {_DATA_FILE}")

    def order(
        self, side: Action, quantity: int, price: Decimal, day: date, exchange: Exchange, brokerage: Decimal
    ) -> OrderCharges:
        """An executed order of `quantity` units at `price`, with the account's brokerage for it."""
        premium = price * quantity

        def on_premium(charge: Charge) -> Decimal:
            row = self.rate(charge, day, exchange)
            return _paise(premium * row.rate) if row.side in (None, side) else Decimal("0.00")

        exchange_charge = on_premium(Charge.EXCHANGE_TRANSACTION)
        sebi = on_premium(Charge.SEBI_FEE)
        gst_rate = self.rate(Charge.GST, day, exchange).rate
        return OrderCharges(
            brokerage=_paise(brokerage),
            stt=on_premium(Charge.STT),
            exchange_transaction=exchange_charge,
            sebi_fee=sebi,
            stamp_duty=on_premium(Charge.STAMP_DUTY),
            gst=_paise((brokerage + exchange_charge + sebi) * gst_rate),
        )

    def exercise_stt(self, intrinsic_value: Decimal, day: date, exchange: Exchange) -> Decimal:
        """STT on an option exercised at expiry: on its intrinsic value x quantity."""
        return _paise(intrinsic_value * self.rate(Charge.STT_EXERCISE, day, exchange).rate)


def load_charges(raw: dict[str, Any]) -> ChargesTable:
    return ChargesTable([ChargeRate.model_validate(row) for row in raw["rates"]])


@cache
def default_charges() -> ChargesTable:
    """The shipped table (parsed once per process)."""
    text = resources.files("shared_utils.market").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return load_charges(json.loads(text))
