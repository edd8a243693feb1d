"""Option vocabulary shared by chains, Greeks and payoffs (no NumPy: importing it is cheap)."""

from __future__ import annotations

from enum import StrEnum


class OptionType(StrEnum):
    CE = "CE"  # call
    PE = "PE"  # put


class Action(StrEnum):
    """The side of an order, a leg or a position change."""

    BUY = "BUY"
    SELL = "SELL"


class PricingModel(StrEnum):
    BLACK_76 = "black76"  # options on futures (or on a forward): the underlying is F
    BLACK_SCHOLES = "black_scholes"  # options on spot without dividends: the underlying is S
